"""Plumbing for the crash tests: `manage.py` and gunicorn as child processes on the test database,
a SIGKILL for their whole process group, and a probe for "a write transaction is open now".

The children run the server's own settings profile (`doorstep.settings.dev`), not the test one:
the test profile forces 50-row import batches and runs tasks in-process, neither of which is what
a killed server would have been doing.
"""

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
# A safety net against a hung child, never a measurement: nothing asserts on durations.
PATIENCE_S = 300


def child_database_url() -> str:
    """The database this test runs on (pytest-django's test database), as a DATABASE_URL."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    credentials = quote(settings["USER"] or "")
    if settings.get("PASSWORD"):
        credentials += ":" + quote(settings["PASSWORD"])
    host = settings["HOST"] or "localhost"
    return f"postgres://{credentials}@{host}:{settings['PORT'] or 5432}/{settings['NAME']}"


def child_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="doorstep.settings.dev",
        DATABASE_URL=child_database_url(),
        DOORSTEP_VAR_DIR=str(var_dir),
        DOORSTEP_DEBUG="0",
        DOORSTEP_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Children:
    """Child processes, each in its own session so a SIGKILL reaches all of it (gunicorn's
    workers too); whatever is still alive when the test ends is killed."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        with (
            open(self.log_dir / f"{name}.out", "wb") as out,
            open(self.log_dir / f"{name}.err", "wb") as err,
        ):
            process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=out, stderr=err, start_new_session=True
            )
        self.running[name] = process
        return process

    def run(self, name: str, args: list[str], env: dict[str, str]) -> int:
        """Start a child and wait for it to finish by itself; its exit status."""
        process = self.start(name, args, env)
        try:
            return process.wait(timeout=PATIENCE_S)
        finally:
            self.kill(name)

    def kill(self, name: str) -> None:
        process = self.running.pop(name, None)
        if process is None:
            return
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=PATIENCE_S)

    def kill_all(self) -> None:
        for name in list(self.running):
            self.kill(name)

    def output(self, name: str) -> str:
        return "".join(
            (self.log_dir / f"{name}.{stream}").read_text(errors="replace")
            for stream in ("out", "err")
        )


def write_transaction_open() -> bool:
    """Whether another process holds a write transaction open on the test database right now."""
    if connection.vendor == "sqlite":
        # One writer at a time: if BEGIN IMMEDIATE cannot have the lock at once, someone has it.
        probe = sqlite3.connect(connection.settings_dict["NAME"], timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise
            return True
        finally:
            probe.close()
    # A transaction of several statements: idle between them, or running a later one. (A lone
    # autocommit statement starts its transaction and its query at the same moment.)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            " AND (state LIKE 'idle in transaction%' OR xact_start < query_start)"
        )
        return cursor.fetchone()[0] > 0


def wait_for_a_write_transaction(patience_s: float = 30) -> bool:
    """Wait (a while) until another process is in the middle of a write transaction."""
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        if write_transaction_open():
            return True
        time.sleep(0.002)
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(children: Children, name: str, *, port: int, env: dict[str, str]):
    """gunicorn with two sync workers, as in production (behind the proxy)."""
    return children.start(
        name,
        [
            GUNICORN,
            "doorstep.wsgi",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        env,
    )


def request_json(
    port: int, method: str, path: str, *, token: str, body: dict | None = None
) -> tuple[int, dict]:
    """One request on a fresh connection. Connection errors are raised, not answered: the caller
    decides what an unanswered request means."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            method,
            path,
            body=json.dumps(body) if body is not None else None,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        data = response.read()
        try:
            return response.status, json.loads(data) if data else {}
        except ValueError:  # an error page, kept for the assertion message
            return response.status, {"raw": data[:500].decode(errors="replace")}
    finally:
        conn.close()


def wait_until_serving(process: subprocess.Popen, *, port: int, token: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            status, _body = request_json(port, "GET", "/api/me", token=token)
        except (OSError, http.client.HTTPException):
            status = None
        if status == 200:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer /api/me (last status {status})")
        time.sleep(0.1)
