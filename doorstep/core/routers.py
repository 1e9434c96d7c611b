"""Reads that may be slightly stale go to the PostgreSQL streaming replica; all else to the primary.

A view or a block opts in, nothing else moves:

    @stale_ok_reads                      # a read-only view: coverage, exports, dashboards
    def coverage_view(request, campaign_id): ...

    with stale_ok_reads() as reads:      # any block; `reads.alias` / `reads.reason` say where
        rows = list(queryset)            # and why

The choice is made once, on entry, so one page never mixes a count from the replica with rows
from the primary. It is the primary when

- no replica is configured (`DOORSTEP_REPLICA_URL` unset: SQLite, a single node, the tests);
- the caller wrote in the last `DOORSTEP_PIN_SECONDS` (a cookie set on the response to any
  non-GET request, and a pin per user in the cache for API clients that keep no cookies): a
  user never reads a page older than their own last write;
- this request already wrote, or the block runs inside a transaction on the primary;
- the replica is down, not streaming from the primary, or behind by more than
  `DOORSTEP_REPLICA_MAX_LAG_SECONDS` (checked at most every `DOORSTEP_REPLICA_CHECK_SECONDS`
  per process; once down, retried after `DOORSTEP_REPLICA_RETRY_SECONDS`).

Once inside, a write (any `db_for_write`) sends the block's later reads to the primary. Used as
a decorator, a replica that fails in the middle of the view (connection lost) is marked down and
the view runs again on the primary: such views only read, so running one twice is safe (one that
already wrote is not run again). Writes always go to the primary; the replica is never migrated.
"""

import contextlib
import functools
import logging
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections

logger = logging.getLogger("doorstep.replica")

REPLICA = "replica"
PIN_COOKIE = "doorstep_wrote"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")

# On the replica: (in recovery?, seconds behind, streaming from the primary?). Behind is 0 when
# everything received has been replayed; otherwise the age of the last replayed transaction,
# which over-states the lag after a quiet spell on the primary (a conservative error: reads go
# to the primary a little longer than needed).
LAG_SQL = """
    SELECT pg_is_in_recovery(),
           CASE WHEN NOT pg_is_in_recovery() THEN NULL
                WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()
                     THEN 0.0
                ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())
           END,
           EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')
"""


@dataclass
class ReadChoice:
    """Where a stale-ok block reads, and why (logged at debug, shown in tests and benches)."""

    alias: str
    reason: str
    wrote: bool = False


@dataclass
class RequestMarks:
    """What the pinning middleware knows of the current request."""

    request: object = None
    pinned: bool = False
    wrote: bool = False


@dataclass
class ReplicaState:
    usable: bool
    reason: str
    lag: float | None = None
    checked_at: float = field(default_factory=time.monotonic)


_choice: ContextVar[ReadChoice | None] = ContextVar("doorstep_read_choice", default=None)
_marks: ContextVar[RequestMarks | None] = ContextVar("doorstep_request_marks", default=None)
_state_lock = threading.Lock()
_state: dict[str, ReplicaState] = {}


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


# -- the replica's health ----------------------------------------------------------------------
def replica_state(*, fresh: bool = False) -> ReplicaState:
    """The replica's state as this process last saw it, checked again when older than the check
    interval (or the retry interval after a failure)."""
    now = time.monotonic()
    with _state_lock:
        known = _state.get(REPLICA)
    if known is not None and not fresh:
        interval = (
            settings.DOORSTEP_REPLICA_CHECK_SECONDS
            if known.usable
            else settings.DOORSTEP_REPLICA_RETRY_SECONDS
        )
        if now - known.checked_at < interval:
            return known
    state = _check_replica()
    with _state_lock:
        previous = _state.get(REPLICA)
        _state[REPLICA] = state
    if previous is None or previous.usable != state.usable:
        level = logging.INFO if state.usable else logging.WARNING
        logger.log(
            level,
            "read replica %s: %s",
            "in use" if state.usable else "not used",
            state.reason,
            extra={"event": "replica_state", "usable": state.usable, "lag": state.lag},
        )
    return state


def _check_replica() -> ReplicaState:
    max_lag = settings.DOORSTEP_REPLICA_MAX_LAG_SECONDS
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(LAG_SQL)
            in_recovery, lag, streaming = cursor.fetchone()
    except DatabaseError as error:
        _close_replica()
        return ReplicaState(False, f"down ({type(error).__name__})")
    lag = float(lag) if lag is not None else None
    if not in_recovery:
        return ReplicaState(False, "not a replica (the server is not in recovery)")
    if not streaming:
        return ReplicaState(False, "not streaming from the primary", lag)
    if lag is None or lag > max_lag:
        shown = "unknown" if lag is None else f"{lag:.1f} s"
        return ReplicaState(False, f"behind by {shown} (max {max_lag:g} s)", lag)
    return ReplicaState(True, f"behind by {lag:.1f} s", lag)


def replica_failed(error: Exception) -> None:
    """A query on the replica failed: leave it alone until the retry interval has passed."""
    _close_replica()
    with _state_lock:
        _state[REPLICA] = ReplicaState(False, f"failed during a request ({type(error).__name__})")
    logger.warning(
        "read replica not used: failed during a request (%s); reads go to the primary",
        type(error).__name__,
        extra={"event": "replica_state", "usable": False},
    )


def _close_replica() -> None:
    with contextlib.suppress(DatabaseError):  # already broken: the next use opens a new one
        connections[REPLICA].close()


def forget_replica_state() -> None:
    """Tests and benches: make the next choice check the replica again."""
    with _state_lock:
        _state.clear()


# -- the choice --------------------------------------------------------------------------------
def _pin_key(user_id) -> str:
    return f"doorstep:primary-pin:{user_id}"


def _user_pinned(marks: RequestMarks | None) -> bool:
    user = getattr(marks.request, "user", None) if marks else None
    if user is None or not user.is_authenticated:
        return False
    return bool(cache.get(_pin_key(user.pk)))


def choose_reads() -> ReadChoice:
    """Where a stale-ok block that starts now reads (see the module's docstring)."""
    if not replica_configured():
        return ReadChoice(DEFAULT_DB_ALIAS, "no replica configured")
    marks = _marks.get()
    if marks is not None and marks.pinned:
        return ReadChoice(DEFAULT_DB_ALIAS, "pinned: this browser wrote moments ago")
    if marks is not None and marks.wrote:
        return ReadChoice(DEFAULT_DB_ALIAS, "this request wrote")
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return ReadChoice(DEFAULT_DB_ALIAS, "inside a transaction on the primary")
    if _user_pinned(marks):
        return ReadChoice(DEFAULT_DB_ALIAS, "pinned: this user wrote moments ago")
    state = replica_state()
    if not state.usable:
        return ReadChoice(DEFAULT_DB_ALIAS, f"replica {state.reason}")
    return ReadChoice(REPLICA, f"replica {state.reason}")


class _StaleOkReads:
    def __enter__(self) -> ReadChoice:
        choice = choose_reads()
        self._token = _choice.set(choice)
        return choice

    def __exit__(self, *exc_info) -> None:
        _choice.reset(self._token)

    def __call__(self, view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            with _StaleOkReads() as choice:
                if choice.alias == DEFAULT_DB_ALIAS:
                    return view(*args, **kwargs)
                try:
                    return view(*args, **kwargs)
                except (OperationalError, InterfaceError) as error:
                    if choice.wrote:
                        raise  # it wrote before failing: not run twice
                    replica_failed(error)
            token = _choice.set(ReadChoice(DEFAULT_DB_ALIAS, "replica failed during the request"))
            try:
                return view(*args, **kwargs)
            finally:
                _choice.reset(token)

        return wrapper


def stale_ok_reads(view=None):
    """`@stale_ok_reads` on a view, or `with stale_ok_reads() as reads:` around a block."""
    if view is None:
        return _StaleOkReads()
    return _StaleOkReads()(view)


def current_reads() -> ReadChoice | None:
    """The choice of the stale-ok block the caller is in (None outside any)."""
    return _choice.get()


# -- the router --------------------------------------------------------------------------------
class ReplicaRouter:
    """Installed always; without a replica (or outside a stale-ok block) it answers the
    primary, which is what Django would do without it."""

    def db_for_read(self, model, **hints):
        choice = _choice.get()
        if choice is None or choice.wrote:
            return DEFAULT_DB_ALIAS
        return choice.alias

    def db_for_write(self, model, **hints):
        choice = _choice.get()
        if choice is not None:
            choice.wrote = True
        marks = _marks.get()
        if marks is not None:
            marks.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, two copies of it

    def allow_migrate(self, db, app_label, **hints):
        return False if db == REPLICA else None


# -- pinning a writer to the primary -----------------------------------------------------------
def _pinned_by_cookie(request) -> bool:
    """The cookie holds the time the pin ends (its max-age says the same to the browser; a
    client that keeps cookies longer is not pinned longer). Forging it only sends one's own
    reads to the primary."""
    try:
        return int(request.COOKIES.get(PIN_COOKIE, "0")) > time.time()
    except ValueError:
        return False


class PrimaryAfterWriteMiddleware:
    """Marks the request (pinned or not; wrote or not) for `choose_reads`, and after any non-GET
    request pins the browser (cookie) and the user (cache) to the primary for
    `DOORSTEP_PIN_SECONDS`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        marks = RequestMarks(request=request, pinned=_pinned_by_cookie(request))
        token = _marks.set(marks)
        try:
            response = self.get_response(request)
        finally:
            _marks.reset(token)
        if request.method not in SAFE_METHODS and replica_configured():
            seconds = int(settings.DOORSTEP_PIN_SECONDS)
            response.set_cookie(
                PIN_COOKIE,
                str(int(time.time()) + seconds),
                max_age=seconds,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                cache.set(_pin_key(user.pk), 1, seconds)
        return response
