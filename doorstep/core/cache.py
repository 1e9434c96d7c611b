"""Django's Redis cache, kept serving when Redis does not answer.

Production keeps three things in Redis: the read budgets (core/ratelimit.py counts through the
default cache), the sessions' cache (the `cached_db` engine, whose truth is the database) and the
task queue (core/tasks.py falls back on its own). A Redis that stops must not stop the app:

- every cache call that cannot reach Redis is answered by a fallback instead of raising;
- `OPTIONS["FALLBACK"] = "local"` (the default cache): a per-process memory cache, so read budgets
  keep counting, per process instead of across processes, until Redis answers again;
- `OPTIONS["FALLBACK"] = "none"` (the sessions' cache): a miss, so sessions are read from the
  database. A per-process copy would be wrong here: a logout in one process would not end the
  session in another;
- after a failure Redis is left alone for `RETRY_SECONDS` (a request does not wait for a
  connection timeout each time), and the outage and the recovery are logged once each;
- a delete that could not reach Redis is remembered and replayed when Redis answers again, so
  a session ended during the outage does not come back from a stale cache entry.
"""

import logging
import threading
import time
from typing import Any

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("doorstep.cache")

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
FALLBACK_NOTES = {
    "local": "read budgets are counted per process until it answers",
    "none": "reads miss and go to the database until it answers",
}
# Keys whose delete did not reach Redis, per Redis location: replayed on recovery (bounded; a
# session entry also expires with the session).
_MISSED_DELETES: dict[str, set[str]] = {}
_MISSED_LOCK = threading.Lock()
_MISSED_MAX = 10_000
# Per location and process: until when Redis is left alone, and whether the outage was logged.
_STATE: dict[str, dict[str, float]] = {}


def _location_label(server: str) -> str:
    """The Redis address without its password, for log lines."""
    return server.split("@", 1)[-1] if "@" in server else server


class ResilientRedisCache(RedisCache):
    def __init__(self, server, params):
        params = dict(params)
        options = dict(params.get("OPTIONS") or {})
        self.fallback_kind = options.pop("FALLBACK", "local")
        if self.fallback_kind not in FALLBACK_NOTES:
            raise ValueError(f"FALLBACK must be one of {sorted(FALLBACK_NOTES)}")
        self.retry_seconds = float(options.pop("RETRY_SECONDS", 5))
        # A Redis that does not answer must cost a request milliseconds, not seconds.
        options.setdefault("socket_connect_timeout", 0.5)
        options.setdefault("socket_timeout", 1.0)
        params["OPTIONS"] = options
        super().__init__(server, params)
        self.label = _location_label(server if isinstance(server, str) else ",".join(server))
        self.state = _STATE.setdefault(self.label + "|" + self.fallback_kind, {"until": 0.0})
        self.local = (
            LocMemCache(f"doorstep-redis-fallback:{self.label}", {"OPTIONS": {}})
            if self.fallback_kind == "local"
            else None
        )

    # -- the guard --------------------------------------------------------------------------
    @property
    def redis_down(self) -> bool:
        return time.monotonic() < self.state["until"]

    def _guarded(self, name: str, *args, **kwargs) -> Any:
        if self.redis_down:
            return self._fallback(name, *args, **kwargs)
        try:
            result = getattr(RedisCache, name)(self, *args, **kwargs)
        except UNREACHABLE as error:
            self._went_down(error)
            return self._fallback(name, *args, **kwargs)
        if self.state.get("logged"):
            self._came_back()
        return result

    def _went_down(self, error: Exception) -> None:
        self.state["until"] = time.monotonic() + self.retry_seconds
        if not self.state.get("logged"):
            self.state["logged"] = 1.0
            logger.warning(
                "Redis at %s does not answer (%s): %s",
                self.label,
                type(error).__name__,
                FALLBACK_NOTES[self.fallback_kind],
                extra={"event": "redis_down", "fallback": self.fallback_kind},
            )

    def _came_back(self) -> None:
        self.state["logged"] = 0.0
        with _MISSED_LOCK:
            missed = _MISSED_DELETES.pop(self.label, set())
        if missed:
            try:
                RedisCache.delete_many(self, list(missed))
            except UNREACHABLE as error:
                with _MISSED_LOCK:
                    _MISSED_DELETES.setdefault(self.label, set()).update(missed)
                self._went_down(error)
                return
        logger.warning(
            "Redis at %s answers again (%d missed deletes replayed)",
            self.label,
            len(missed),
            extra={"event": "redis_up", "fallback": self.fallback_kind},
        )

    def _remember_deletes(self, keys) -> None:
        with _MISSED_LOCK:
            missed = _MISSED_DELETES.setdefault(self.label, set())
            if len(missed) < _MISSED_MAX:
                missed.update(k for k in keys if k is not None)

    def _fallback(self, name: str, *args, **kwargs) -> Any:
        if name == "delete":
            self._remember_deletes([kwargs.get("key", args[0] if args else None)])
        elif name == "delete_many":
            self._remember_deletes(list(kwargs.get("keys", args[0] if args else [])))
        if self.local is not None:
            return getattr(self.local, name)(*args, **kwargs)
        return _MISS_ANSWERS[name](*args, **kwargs)

    # -- the cache API, each call through the guard --------------------------------------------
    def add(self, *args, **kwargs):
        return self._guarded("add", *args, **kwargs)

    def get(self, *args, **kwargs):
        return self._guarded("get", *args, **kwargs)

    def set(self, *args, **kwargs):
        return self._guarded("set", *args, **kwargs)

    def touch(self, *args, **kwargs):
        return self._guarded("touch", *args, **kwargs)

    def delete(self, *args, **kwargs):
        return self._guarded("delete", *args, **kwargs)

    def get_many(self, *args, **kwargs):
        return self._guarded("get_many", *args, **kwargs)

    def has_key(self, *args, **kwargs):
        return self._guarded("has_key", *args, **kwargs)

    def incr(self, *args, **kwargs):
        return self._guarded("incr", *args, **kwargs)

    def set_many(self, *args, **kwargs):
        return self._guarded("set_many", *args, **kwargs)

    def delete_many(self, *args, **kwargs):
        return self._guarded("delete_many", *args, **kwargs)

    def clear(self):
        return self._guarded("clear")

    def ping(self) -> None:
        """Ask Redis itself (no fallback): raises when it does not answer. For /healthz."""
        self._cache.get_client(write=True).ping()


def _get(key, default=None, version=None):
    return default


def _incr(key, delta=1, version=None):
    raise ValueError(f"Key '{key}' not found")


# What a cache without fallback answers while Redis is down: a miss, a write not taken.
_MISS_ANSWERS = {
    "add": lambda *a, **k: False,
    "get": _get,
    "set": lambda *a, **k: None,
    "touch": lambda *a, **k: False,
    "delete": lambda *a, **k: False,
    "get_many": lambda *a, **k: {},
    "has_key": lambda *a, **k: False,
    "incr": _incr,
    "set_many": lambda *a, **k: list(a[0]) if a else list(k.get("data", {})),
    "delete_many": lambda *a, **k: None,
    "clear": lambda *a, **k: None,
}
