"""Production profile: `DJANGO_SETTINGS_MODULE=doorstep.settings.production`.

Requires DOORSTEP_SECRET_KEY and DATABASE_URL in the environment; refuses to start without them.
"""

import os

from .base import *  # noqa: F403

DEBUG = False
STATIC_ROOT = PROJECT_DIR / "staticfiles"  # noqa: F405
WHITENOISE_USE_FINDERS = False
SECRET_KEY = os.environ["DOORSTEP_SECRET_KEY"]
DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}  # noqa: F405

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

# Rate limits and self-report limits must be shared by every gunicorn worker: Redis.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("DOORSTEP_REDIS_URL", "redis://127.0.0.1:6379/0"),
    }
}
