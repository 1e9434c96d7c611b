from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
IMPORT_FILE_DIR = VAR_DIR / "test-imports"  # noqa: F405
ROSTER_IMPORT_CHUNK_ROWS = 50
# Tests make hundreds of reads as one user; tests/test_rate_limits.py sets real limits.
DOORSTEP_RATE_SCOPED = DOORSTEP_RATE_SEARCH = "100000/m"
DOORSTEP_RATE_REVEAL = DOORSTEP_RATE_REFUSED = "100000/m"

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not pytest-django's shared in-memory database: concurrency tests need SQLite's real
    # locking (WAL and the busy timeout), which the in-memory shared cache does not have.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-doorstep.sqlite3")}  # noqa: F405
