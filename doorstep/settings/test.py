from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
IMPORT_FILE_DIR = VAR_DIR / "test-imports"  # noqa: F405
ROSTER_IMPORT_CHUNK_ROWS = 50
