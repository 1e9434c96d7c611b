"""gunicorn in production: `gunicorn -c python:doorstep.gunicorn_conf doorstep.wsgi`
(scripts/production_serve.py starts it so, beside the task workers).

Workers: `DOORSTEP_GUNICORN_WORKERS`, else 2 × cores + 1 (sync workers: each request holds one
worker, and PostgreSQL does the waiting). Every log line, the access log included, is one JSON
object with ID numbers and mobile numbers scrubbed (a search's query string is part of the
access log's path).
"""

import os

from doorstep.core.gunicorn import ScrubbedLogger
from doorstep.core.logging import JsonLinesFormatter, ScrubPersonalDataFilter


def _workers() -> int:
    configured = os.environ.get("DOORSTEP_GUNICORN_WORKERS", "").strip()
    return int(configured) if configured else 2 * (os.cpu_count() or 1) + 1


wsgi_app = "doorstep.wsgi:application"
bind = os.environ.get("DOORSTEP_BIND", "127.0.0.1:8000").split(",")
workers = _workers()
worker_class = os.environ.get("DOORSTEP_GUNICORN_CLASS", "sync")
threads = int(os.environ.get("DOORSTEP_GUNICORN_THREADS", "1"))
# An upload of a large roster is read within the request before the import is queued.
timeout = int(os.environ.get("DOORSTEP_GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
# A worker is replaced now and then, so a slow leak in any library cannot grow for weeks.
max_requests = 5000
max_requests_jitter = 500
# The load balancer's address: only it may say a request came over https.
forwarded_allow_ips = os.environ.get("DOORSTEP_FORWARDED_ALLOW_IPS", "127.0.0.1")
# TLS at gunicorn itself when there is no proxy in front (the demo does this).
certfile = os.environ.get("DOORSTEP_TLS_CERT") or None
keyfile = os.environ.get("DOORSTEP_TLS_KEY") or None
accesslog = "-"
errorlog = "-"
# gunicorn's control socket (one path per user by default) would be shared by every server on
# the host; nothing here uses it.
control_socket_disable = True


class JsonAccessLogger(ScrubbedLogger):
    """The access log as fields (method, path, status, duration…) rather than one Apache line,
    through the same scrub filter and JSON formatter as the app's own logs (the filter sits on
    the loggers themselves, so a handler added later scrubs too)."""

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        path = environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        duration_ms = round(request_time.total_seconds() * 1000, 1)
        self.access_log.info(
            "%s %s %s %.1f ms",
            environ.get("REQUEST_METHOD"),
            path,
            status,
            duration_ms,
            extra={
                "event": "access",
                "method": environ.get("REQUEST_METHOD"),
                "path": path,
                "status": int(status),
                "duration_ms": duration_ms,
                "bytes": getattr(resp, "sent", None),
                "remote": environ.get("REMOTE_ADDR"),
                "forwarded_for": environ.get("HTTP_X_FORWARDED_FOR"),
                "user_agent": environ.get("HTTP_USER_AGENT"),
            },
        )


logger_class = JsonAccessLogger
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"scrub_personal_data": {"()": ScrubPersonalDataFilter}},
    "formatters": {"json": {"()": JsonLinesFormatter}},
    "handlers": {
        "json_stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["scrub_personal_data"],
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": "INFO", "handlers": ["json_stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["json_stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["json_stderr"], "propagate": False},
    },
}
