"""gunicorn's own logs (the access log carries each request's path and query; the error log
tracebacks) pass the same scrub filter as the app's: on the loggers themselves, so every handler
gunicorn attaches (a file, stdout, syslog, a logconfig) writes scrubbed lines.

Use it with `gunicorn -c python:doorstep.gunicorn_conf doorstep.wsgi` (or
`--logger-class doorstep.core.gunicorn.ScrubbedLogger`).
"""

from gunicorn.glogging import Logger

from .logging import ScrubPersonalDataFilter


class ScrubbedLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, ScrubPersonalDataFilter) for f in log.filters):
                log.addFilter(ScrubPersonalDataFilter())
