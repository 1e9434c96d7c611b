"""Settings shared by every profile; what differs per machine comes from the environment."""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE

BASE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = BASE_DIR.parent
VAR_DIR = Path(os.environ.get("DOORSTEP_VAR_DIR", PROJECT_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get(
    "DOORSTEP_SECRET_KEY", "dev-only-not-secret-0d7d1f6c3b0a4b1f9c2e8d5a7b3c1e9f-change-me"
)
DEBUG = os.environ.get("DOORSTEP_DEBUG", "1") == "1"
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("DOORSTEP_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_htmx",
    "csp",
    "ninja",  # serves the API docs' Swagger UI from our own static files (no CDN, CSP-clean)
    "django_tasks",
    "django_tasks_db",
    "doorstep.core",
    "doorstep.areas",
    "doorstep.accounts",
    "doorstep.registry",
    "doorstep.imports",
    "doorstep.demo",
    "doorstep.screening",
    "doorstep.checkpoints",
    "doorstep.followup",
    "doorstep.command",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "doorstep.core.middleware.LoginRequiredByDefaultMiddleware",
    "doorstep.core.ratelimit.PersonalDataRateLimitMiddleware",
    "doorstep.accounts.middleware.TwoFactorRequiredMiddleware",
    "doorstep.accounts.middleware.PasswordChangeRequiredMiddleware",
    # Last, so that a locked-out login is answered before any view runs.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "doorstep.urls"
WSGI_APPLICATION = "doorstep.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "doorstep.accounts.context_processors.two_factor_state",
            ],
        },
    }
]


def database_from_url(url: str) -> dict:
    config = dj_database_url.parse(url, conn_max_age=60)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN so
        # two writers queue on the busy timeout instead of failing with "database is locked".
        # Connections are kept (per thread): opening one runs the PRAGMAs below, a cost that
        # would otherwise be paid on every request.
        config["CONN_MAX_AGE"] = 600
        config["CONN_HEALTH_CHECKS"] = True
        config["OPTIONS"] = {
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                " PRAGMA cache_size=-64000;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    return config


DATABASES = {
    "default": database_from_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'doorstep.sqlite3'}")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked-out login before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Validates nothing: told of every password change, whichever path made it, it revokes the
    # user's API tokens (accounts/tokens.py).
    {"NAME": "doorstep.accounts.tokens.RevokeTokensOnPasswordChange"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Sessions end after 8 hours of work or when the browser closes.
SESSION_COOKIE_AGE = 8 * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Lockout: 5 failures for one username from one address lock that pair for 30 minutes; 30
# failures for one username from any addresses lock the username (distributed guessing). A
# locked pair's further attempts are not counted, so one address adds at most 5 to the
# username's count and cannot lock anyone out alone (accounts/lockout.py).
AXES_FAILURE_LIMIT = 5
DOORSTEP_USERNAME_FAILURE_LIMIT = int(os.environ.get("DOORSTEP_USERNAME_FAILURE_LIMIT", "30"))
AXES_COOLOFF_TIME = 0.5
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username"]
AXES_HANDLER = "doorstep.accounts.lockout.DoorstepAxesHandler"
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
# The real client address (core/clientip.py): the number of reverse proxies in front of the app
# that add the client's address to X-Forwarded-For; 0: none, and the header is ignored.
DOORSTEP_PROXY_COUNT = int(os.environ.get("DOORSTEP_PROXY_COUNT", "0"))
AXES_CLIENT_IP_CALLABLE = "doorstep.core.clientip.client_ip_address"

# Two-factor login (TOTP) for command and admin accounts: the name authenticator apps show.
OTP_TOTP_ISSUER = "Doorstep 门前"
# The device admin (where a lost phone is reset) must not show anyone's key or QR code.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Served from the apps' static folders (no collectstatic step for the embedded default);
# production collects them into STATIC_ROOT.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
# Uploaded rosters and generated error reports; never served directly, only through scoped views.
IMPORT_FILE_DIR = VAR_DIR / "imports"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# First: an upload larger than any sheet we read is cut off before it reaches the disk.
FILE_UPLOAD_HANDLERS = [
    "doorstep.core.uploads.SizeLimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 5000

TASKS = {
    "default": {
        "BACKEND": os.environ.get("DOORSTEP_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

# Roster import tuning: rows per transaction.
ROSTER_IMPORT_CHUNK_ROWS = int(os.environ.get("DOORSTEP_IMPORT_CHUNK_ROWS", "5000"))
# A running import commits a batch every second or so; one silent this long is taken as dead
# (on its own host a dead process is seen at once, without waiting).
IMPORT_STALE_AFTER_SECONDS = int(os.environ.get("DOORSTEP_IMPORT_STALE_AFTER_SECONDS", "300"))
# A running import's sign of life, also between batches.
IMPORT_HEARTBEAT_SECONDS = float(os.environ.get("DOORSTEP_IMPORT_HEARTBEAT_SECONDS", "30"))

# Uploaded sheets are read in a separate process under these limits (doorstep/core/sheets).
# Rows and columns: a district roster of 1,048,576 XLSX rows still fits, ~100 columns is plenty.
SHEET_LIMITS = {
    "max_file_bytes": int(os.environ.get("DOORSTEP_SHEET_MAX_FILE_MB", "300")) * 1024 * 1024,
    "max_rows": int(os.environ.get("DOORSTEP_SHEET_MAX_ROWS", "1048576")),
    "max_columns": int(os.environ.get("DOORSTEP_SHEET_MAX_COLUMNS", "100")),
    "max_cell_chars": int(os.environ.get("DOORSTEP_SHEET_MAX_CELL_CHARS", "32767")),
    "max_unpacked_bytes": int(os.environ.get("DOORSTEP_SHEET_MAX_UNPACKED_MB", "2048"))
    * 1024
    * 1024,
    "max_unpack_ratio": int(os.environ.get("DOORSTEP_SHEET_MAX_UNPACK_RATIO", "100")),
    "memory_bytes": int(os.environ.get("DOORSTEP_SHEET_READER_MEMORY_MB", "1024")) * 1024 * 1024,
    "cpu_seconds": int(os.environ.get("DOORSTEP_SHEET_READER_CPU_SECONDS", "900")),
    "timeout_seconds": float(os.environ.get("DOORSTEP_SHEET_READER_TIMEOUT_SECONDS", "60")),
}
# Account, area and visit sheets are read whole into memory: fewer rows than a roster.
SHEET_MAX_ROWS_SMALL = int(os.environ.get("DOORSTEP_SHEET_MAX_ROWS_SMALL", "50000"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"scrub_personal_data": {"()": "doorstep.core.logging.ScrubPersonalDataFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["scrub_personal_data"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DOORSTEP_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own loggers write through the root's scrubbed handler: its default console
        # handler (DEBUG only) and the runserver access log ("django.server", one line per
        # request with its full path and query) would otherwise print unscrubbed lines.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

# One cache for every process: Redis in production (DOORSTEP_REDIS_URL), so per-user rate limits
# and self-report limits hold across gunicorn workers; a per-process memory cache otherwise.
if os.environ.get("DOORSTEP_REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["DOORSTEP_REDIS_URL"],
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Content Security Policy on every response: scripts only from our own files or with the
# per-response nonce (no inline handlers), nothing framed, forms only to ourselves. Inline
# style attributes are allowed: they cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
X_FRAME_OPTIONS = "DENY"

# Per caller (user, API token or address), reads of scoped endpoints and searches; see
# core/ratelimit.py. A worker paging a list or typing paper forms stays far below these.
DOORSTEP_RATE_SCOPED = os.environ.get("DOORSTEP_RATE_SCOPED", "600/m")
DOORSTEP_RATE_SEARCH = os.environ.get("DOORSTEP_RATE_SEARCH", "60/m")
# Reveals of full numbers, exports and printouts: tighter than reads (each one is a copy).
DOORSTEP_RATE_REVEAL = os.environ.get("DOORSTEP_RATE_REVEAL", "100/h")
# Writes refused (4xx, or an item a service refused): a person makes a few mistakes an hour.
DOORSTEP_RATE_REFUSED = os.environ.get("DOORSTEP_RATE_REFUSED", "60/h")

# The key of the visit sheets' client UUIDs (screening/sheets.py): keep it when the secret key
# rotates, or a sheet uploaded again after the rotation would be recorded a second time.
DOORSTEP_SHEET_UUID_KEY = os.environ.get("DOORSTEP_SHEET_UUID_KEY", SECRET_KEY)

NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_MAX_LIMIT = 2000
# bench/ only: exposes the one-INSERT floor endpoint next to the API.
DOORSTEP_BENCH_ENDPOINTS = os.environ.get("DOORSTEP_BENCH_ENDPOINTS") == "1"

# A PostgreSQL streaming replica for reads that may be slightly stale (coverage, exports,
# dashboards opt in with core.routers.stale_ok_reads); see core/routers.py and ARCHITECTURE.md.
if os.environ.get("DOORSTEP_REPLICA_URL"):
    DATABASES["replica"] = database_from_url(os.environ["DOORSTEP_REPLICA_URL"])
    # A replica that does not answer costs a request two seconds once, then is left alone.
    DATABASES["replica"]["OPTIONS"] = {"connect_timeout": 2}
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["doorstep.core.routers.ReplicaRouter"]
MIDDLEWARE.append("doorstep.core.routers.PrimaryAfterWriteMiddleware")
DOORSTEP_REPLICA_MAX_LAG_SECONDS = float(os.environ.get("DOORSTEP_REPLICA_MAX_LAG_SECONDS", "5"))
DOORSTEP_REPLICA_CHECK_SECONDS = float(os.environ.get("DOORSTEP_REPLICA_CHECK_SECONDS", "1"))
DOORSTEP_REPLICA_RETRY_SECONDS = float(os.environ.get("DOORSTEP_REPLICA_RETRY_SECONDS", "5"))
DOORSTEP_PIN_SECONDS = int(os.environ.get("DOORSTEP_PIN_SECONDS", "10"))

# Checkpoints: a destination whose province or city (in front of the district) is none of these
# is outside the district (handed out); the default deadline of a handoff; how long after its
# deadline an overdue handoff reaches the command (the street sees it at once).
DOORSTEP_CHECKPOINT_HOME_REGIONS = tuple(
    os.environ.get("DOORSTEP_CHECKPOINT_HOME_REGIONS", "重庆市,重庆").split(",")
)
DOORSTEP_HANDOFF_HOURS = int(os.environ.get("DOORSTEP_HANDOFF_HOURS", "24"))
DOORSTEP_HANDOFF_COMMAND_AFTER_HOURS = int(
    os.environ.get("DOORSTEP_HANDOFF_COMMAND_AFTER_HOURS", "12")
)
# Follow-up (doorstep/followup): the slots of a day's checks (start times, Asia/Shanghai; each
# runs to the next one's start, the last to midnight), the hours after which a missed check
# escalates to the community admin and then to the street, how recent the last check must be for
# a release, how long a referral may take to arrive, the fever threshold of a check, and how long
# without a reached check counts as lost to follow-up.
FOLLOWUP_SLOT_STARTS = os.environ.get("DOORSTEP_FOLLOWUP_SLOT_STARTS", "00:00,12:00").split(",")
FOLLOWUP_ESCALATE_ADMIN_HOURS = float(os.environ.get("DOORSTEP_FOLLOWUP_ESCALATE_ADMIN_HOURS", "4"))
FOLLOWUP_ESCALATE_STREET_HOURS = float(
    os.environ.get("DOORSTEP_FOLLOWUP_ESCALATE_STREET_HOURS", "12")
)
FOLLOWUP_RELEASE_LAST_CHECK_HOURS = float(
    os.environ.get("DOORSTEP_FOLLOWUP_RELEASE_LAST_CHECK_HOURS", "24")
)
FOLLOWUP_REFERRAL_ARRIVAL_HOURS = float(
    os.environ.get("DOORSTEP_FOLLOWUP_REFERRAL_ARRIVAL_HOURS", "2")
)
FOLLOWUP_FEVER_THRESHOLD = os.environ.get("DOORSTEP_FOLLOWUP_FEVER_THRESHOLD", "37.3")
FOLLOWUP_LOST_HOURS = float(os.environ.get("DOORSTEP_FOLLOWUP_LOST_HOURS", "48"))
# Retention (doorstep/core/retention.py, `apply_retention`): the days after a key person's last
# monitoring was released, and after an arrival's handoff closed (or the arrival, without one),
# before what was collected about the person is anonymised; the figures stay. 30 days: two
# incubation periods of 14 days and a margin for late corrections, the span data-minimisation
# rules of contact tracing commonly keep such records for. The steps `apply_retention` runs.
FOLLOWUP_RETENTION_DAYS = int(os.environ.get("DOORSTEP_FOLLOWUP_RETENTION_DAYS", "30"))
DOORSTEP_CHECKPOINT_RETENTION_DAYS = int(os.environ.get("DOORSTEP_CHECKPOINT_RETENTION_DAYS", "30"))
DOORSTEP_RETENTION_STEPS = [
    "doorstep.followup.retention.STEP",
    "doorstep.checkpoints.retention.STEP",
]
# What other domains do with a saved sweep visit (doorstep/core/visit_consumers.py): consumers are
# told the ids of the visits saved (on commit, one call per batch); outcome providers say what
# they did for a visit's flagged persons (the worker's feedback after a save).
DOORSTEP_VISIT_CONSUMERS = ["doorstep.followup.sweep_link.visits_recorded"]
DOORSTEP_FLAG_OUTCOME_PROVIDERS = ["doorstep.followup.sweep_link.flag_outcomes"]
# The command center (issue 12): the day's brief is frozen at this local time (HH:MM,
# Asia/Shanghai); a change applies to days not yet frozen. Bulletins hide counts 1..k-1 below
# the district (k from 3 to 11).
DOORSTEP_BRIEF_CUTOFF = os.environ.get("DOORSTEP_BRIEF_CUTOFF", "18:00")
DOORSTEP_BULLETIN_K = int(os.environ.get("DOORSTEP_BULLETIN_K", "5"))
# The data set code the exports for the level above (DHIS2 dataValueSets, ADX) carry.
DOORSTEP_EXCHANGE_DATASET = os.environ.get("DOORSTEP_EXCHANGE_DATASET", "DOORSTEP_SWEEP")
