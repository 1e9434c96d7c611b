"""gunicorn settings every deployment uses: `gunicorn -c python:doorstep.gunicorn_conf ...`
(other settings on the command line or in the environment add to these)."""

# Access and error logs pass the scrub filter (no full ID or phone number in a log line).
logger_class = "doorstep.core.gunicorn.ScrubbedLogger"
