"""Run Doorstep's production profile on one host: gunicorn and the task workers, supervised.

    DJANGO_SETTINGS_MODULE=doorstep.settings.production DOORSTEP_SECRET_KEY=… \\
    DOORSTEP_ALLOWED_HOSTS=… DATABASE_URL=postgres://… DOORSTEP_REDIS_URL=redis://… \\
        .venv/bin/python scripts/production_serve.py [--migrate]

Before anything is started: `check --deploy` must pass with no warning (a missing secret key,
allowed hosts or database stops it there, naming which), static files are collected, and with
`--migrate` the database is migrated. Then it starts

- gunicorn with doorstep/gunicorn_conf.py (bind, workers from the core count, TLS, JSON logs);
- the RQ worker for the Redis task queue, and the database worker for tasks queued while Redis
  did not answer (core/tasks.py); with `DOORSTEP_TASK_BACKEND=django_tasks_db.DatabaseBackend`
  only the database worker.

A worker that exits (Redis gone, say) is started again after a pause that doubles up to 30 s;
gunicorn exiting ends the whole group with its status. SIGTERM or Ctrl-C stops everything.
Under systemd, one unit runs this script (Restart=on-failure). Every line it writes itself is
JSON, like the app's.
"""

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doorstep.core.logging import JsonLinesFormatter, ScrubPersonalDataFilter  # noqa: E402

logger = logging.getLogger("doorstep.serve")
MAX_BACKOFF = 30.0
STOP_GRACE = 30.0


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLinesFormatter())
    handler.addFilter(ScrubPersonalDataFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def manage(*arguments: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *arguments]


class Child:
    def __init__(self, name: str, command: list[str], *, essential: bool):
        self.name, self.command, self.essential = name, command, essential
        self.process: subprocess.Popen | None = None
        self.backoff = 1.0
        self.restart_at = 0.0

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, cwd=ROOT)
        self.started_at = time.monotonic()
        logger.info(
            "started %s (pid %d)",
            self.name,
            self.process.pid,
            extra={"event": "start", "child": self.name},
        )


def _prepare(migrate: bool) -> None:
    steps = [manage("check", "--deploy", "--fail-level", "WARNING")]
    if migrate:
        steps.append(manage("migrate", "--no-input", "-v0"))
    steps.append(manage("collectstatic", "--no-input", "-v0"))
    for command in steps:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            output = (result.stderr or result.stdout).strip().splitlines()
            logger.error(
                "refusing to start: `%s` failed (exit %d): %s",
                " ".join(command[2:]),
                result.returncode,
                output[-1] if output else "",
                extra={"event": "refused", "output": output[-30:]},
            )
            raise SystemExit(result.returncode or 1)


def _children() -> list[Child]:
    children = [
        Child(
            "gunicorn",
            [sys.executable, "-m", "gunicorn", "-c", "python:doorstep.gunicorn_conf"],
            essential=True,
        )
    ]
    backend = os.environ.get("DOORSTEP_TASK_BACKEND", "django_tasks_rq.RQBackend")
    if backend == "django_tasks_rq.RQBackend":
        children.append(
            Child(
                "rq-worker",
                manage("rqworker", "default", "--job-class", "django_tasks_rq.Job"),
                essential=False,
            )
        )
        children.append(
            Child(
                "db-worker",
                manage("db_worker", "--backend", "database", "--queue-name", "default", "-v0"),
                essential=False,
            )
        )
    else:
        children.append(
            Child(
                "db-worker", manage("db_worker", "--queue-name", "default", "-v0"), essential=False
            )
        )
    return children


def _stop(children: list[Child]) -> None:
    for child in children:
        if child.process is not None and child.process.poll() is None:
            child.process.terminate()
    deadline = time.monotonic() + STOP_GRACE
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()


def _supervise(children: list[Child]) -> int:
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for child in children:
        child.start()
    while not stopping:
        time.sleep(0.5)
        now = time.monotonic()
        for child in children:
            if child.process is None:
                if now >= child.restart_at:
                    child.start()
                continue
            code = child.process.poll()
            if code is None:
                if now - child.started_at > 60:
                    child.backoff = 1.0  # it ran a while: the next failure starts over
                continue
            if child.essential:
                logger.error(
                    "%s exited (status %d): stopping",
                    child.name,
                    code,
                    extra={"event": "exit", "child": child.name, "status": code},
                )
                _stop(children)
                return code or 1
            logger.warning(
                "%s exited (status %d): starting it again in %.0f s",
                child.name,
                code,
                child.backoff,
                extra={"event": "exit", "child": child.name, "status": code},
            )
            child.process = None
            child.restart_at = now + child.backoff
            child.backoff = min(MAX_BACKOFF, child.backoff * 2)
    logger.info("stopping (signal %d)", stopping[0], extra={"event": "stop"})
    _stop(children)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--migrate", action="store_true", help="migrate the database first")
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "doorstep.settings.production")
    _setup_logging()
    _prepare(options.migrate)
    return _supervise(_children())


if __name__ == "__main__":
    sys.exit(main())
