"""Production profile: `DJANGO_SETTINGS_MODULE=doorstep.settings.production`.

PostgreSQL (`DATABASE_URL`, and `DOORSTEP_REPLICA_URL` for a streaming read replica), Redis
(`DOORSTEP_REDIS_URL`) for the cache, the sessions' cache, the read budgets and the task queue,
static files collected and served by WhiteNoise, JSON log lines. Refuses to start, naming what is
missing, without a secret key, allowed hosts or a database. How to run it: README.md
("Production"); `make production-demo` runs it all on one machine.
"""

import copy
import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403

REQUIRED = {
    "DOORSTEP_SECRET_KEY": "a long random string, e.g. from "
    "`python3 -c 'import secrets; print(secrets.token_urlsafe(60))'`",
    "DOORSTEP_ALLOWED_HOSTS": "the host names this server answers to, comma-separated",
    "DATABASE_URL": "the PostgreSQL database, postgres://user@host:5432/name",
}
_missing = [name for name in REQUIRED if not os.environ.get(name, "").strip()]
if _missing:
    raise ImproperlyConfigured(
        "Doorstep will not start in production without "
        + "; ".join(f"{name} ({REQUIRED[name]})" for name in _missing)
    )
if os.environ["DOORSTEP_SECRET_KEY"].startswith("dev-only"):
    raise ImproperlyConfigured("DOORSTEP_SECRET_KEY is the development key: set a secret one")

DEBUG = False
SECRET_KEY = os.environ["DOORSTEP_SECRET_KEY"]
ALLOWED_HOSTS = [h.strip() for h in os.environ["DOORSTEP_ALLOWED_HOSTS"].split(",") if h.strip()]
DATABASES["default"] = database_from_url(os.environ["DATABASE_URL"])  # noqa: F405
STATIC_ROOT = os.environ.get("DOORSTEP_STATIC_ROOT", str(PROJECT_DIR / "staticfiles"))  # noqa: F405
WHITENOISE_USE_FINDERS = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Behind the reverse proxy the README describes (one nginx adding X-Forwarded-For).
DOORSTEP_PROXY_COUNT = int(os.environ.get("DOORSTEP_PROXY_COUNT", "1"))
DOORSTEP_BENCH_ENDPOINTS = False

# Redis, shared by every worker process and host. Rate limits (read budgets) and self-report
# limits count in the default cache; sessions live in the database with a Redis copy in front.
# Both keep serving when Redis does not answer (core/cache.py says how).
REDIS_URL = os.environ.get("DOORSTEP_REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "doorstep.core.cache.ResilientRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "doorstep",
        "OPTIONS": {"FALLBACK": "local"},
    },
    "sessions": {
        "BACKEND": "doorstep.core.cache.ResilientRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "doorstep-session",
        "OPTIONS": {"FALLBACK": "none"},
    },
}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_CACHE_ALIAS = "sessions"

# Background tasks on Redis through RQ (worker: `manage.py rqworker default --job-class
# django_tasks_rq.Job`); when Redis does not answer, core/tasks.py queues in the database
# instead (worker: `manage.py db_worker --backend database`). scripts/production_serve.py runs
# both workers. DOORSTEP_TASK_BACKEND=django_tasks_db.DatabaseBackend keeps the database alone.
INSTALLED_APPS = [*INSTALLED_APPS, "django_rq"]  # noqa: F405
RQ_QUEUES = {
    # An import of a million rows runs for minutes: RQ's timeout must not cut it short.
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 6 * 3600},
}
TASKS = {
    "default": {
        "BACKEND": os.environ.get("DOORSTEP_TASK_BACKEND", "django_tasks_rq.RQBackend"),
        "QUEUES": ["default"],
    },
    "database": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]},
}

# One JSON object a line on stderr, personal data scrubbed (core/logging.py); gunicorn's access
# log goes through the same filter and formatter (doorstep/gunicorn_conf.py).
LOGGING = copy.deepcopy(LOGGING)  # noqa: F405
LOGGING["formatters"]["json"] = {"()": "doorstep.core.logging.JsonLinesFormatter"}
LOGGING["handlers"]["console"]["formatter"] = "json"
LOGGING["loggers"]["django.request"] = {"level": "WARNING"}
