"""The production profile, run for real: scripts/production_serve.py (gunicorn over TLS, the RQ
and database task workers) against a PostgreSQL database of its own and a private redis-server
on a free port (so a test can stop it without touching the shared one on 6379).

The server is started once for the module that asks for it; its stderr (JSON log lines) is kept
in a file the tests read. PostgreSQL only: the tests are marked `postgresql` and left out of
the SQLite run.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests
from django.db import connection

from tests.crash_helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
PASSWORD = "doorstep-demo-2026"  # the demo's logins (demo/services.py)

SETUP = """
import datetime, json
from django.utils import timezone
from doorstep.accounts.models import User
from doorstep.screening.services import assignment_create, campaign_create
command = User.objects.get(username="command")
worker = User.objects.get(username="worker")
campaign = campaign_create(
    user=command, name="production test sweep", scope_area=command.jurisdiction_area,
    deadline=timezone.now() + datetime.timedelta(days=3),
)
assignment_create(user=command, campaign=campaign, worker=worker, grid=worker.jurisdiction_area)
community = User.objects.get(username="community")
print(json.dumps({
    "campaign": campaign.pk,
    "community_area": community.jurisdiction_area.code,
    "import_area": worker.jurisdiction_area.code,  # a grid of the community: no grid column
}))
"""


@dataclass
class RedisServer:
    port: int
    directory: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(50):
            ping = subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, check=False
            )
            if ping.stdout.strip() == b"PONG":
                return
            time.sleep(0.1)
        raise RuntimeError(f"private redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@dataclass
class ProductionServer:
    base: str
    cert: Path
    log_path: Path
    database_url: str
    env: dict
    redis: RedisServer
    campaign: int = 0
    community_area: str = ""
    process: subprocess.Popen | None = None
    extra: dict = field(default_factory=dict)

    def session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # no proxy, and no CA bundle from the environment over ours
        session.verify = str(self.cert)
        # Django checks the Referer of an https POST against the host (CSRF).
        session.headers["Referer"] = self.base + "/"
        return session

    def log_lines(self) -> list[dict]:
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def raw_log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def db(self):
        return psycopg.connect(self.database_url, autocommit=True)

    def manage(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [PYTHON, "manage.py", *arguments],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
        )


def _database_urls() -> tuple[str, str, str]:
    """(admin URL, URL of the server's own database, its name), beside the test database."""
    settings = connection.settings_dict
    host, port, user = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432, settings["USER"]
    name = f"{settings['NAME']}_serve"[:63]
    base = f"postgres://{user}@{host}:{port}"
    return f"{base}/postgres", f"{base}/{name}", name


def _make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def production_env(**overrides) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOORSTEP_", "DATABASE_URL"))}
    env.update(DJANGO_SETTINGS_MODULE="doorstep.settings.production", PYTHONUNBUFFERED="1")
    env.update(overrides)
    return env


def wait_healthy(server: ProductionServer, *, timeout: float = 120) -> requests.Response:
    deadline = time.monotonic() + timeout
    last: Exception | str = "no answer"
    while time.monotonic() < deadline:
        if server.process is not None and server.process.poll() is not None:
            raise RuntimeError(
                f"the server exited ({server.process.returncode}):\n{server.raw_log()}"
            )
        try:
            response = requests.get(f"{server.base}/healthz", verify=str(server.cert), timeout=5)
            if response.status_code == 200:
                return response
            last = f"{response.status_code} {response.text}"
        except requests.RequestException as error:
            last = error
        time.sleep(0.5)
    raise RuntimeError(f"the server did not become healthy: {last}\n{server.raw_log()[-4000:]}")


@pytest.fixture(scope="module")
def production_server(tmp_path_factory, django_db_blocker):
    if connection.vendor != "postgresql":
        pytest.fail("the production profile runs on PostgreSQL: set DATABASE_URL=postgres://…")
    if shutil.which("redis-server") is None or shutil.which("openssl") is None:
        pytest.fail(
            "the production tests need redis-server and openssl: apt-get install "
            "redis-server openssl"
        )
    directory = tmp_path_factory.mktemp("production")
    admin_url, database_url, name = _database_urls()
    with django_db_blocker.unblock(), psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    redis = RedisServer(free_port(), directory)
    redis.start()
    try:  # a setup that fails (the demo, a port) still stops Redis and drops the database
        cert, key = _make_certificate(directory)
        port = free_port()
        env = production_env(
            DOORSTEP_SECRET_KEY=secrets.token_urlsafe(60),
            DOORSTEP_ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=database_url,
            DOORSTEP_REDIS_URL=redis.url,
            DOORSTEP_BIND=f"127.0.0.1:{port}",
            DOORSTEP_TLS_CERT=str(cert),
            DOORSTEP_TLS_KEY=str(key),
            DOORSTEP_STATIC_ROOT=str(directory / "static"),
            DOORSTEP_VAR_DIR=str(directory / "var"),
            DOORSTEP_GUNICORN_WORKERS="2",
        )
        server = ProductionServer(
            base=f"https://127.0.0.1:{port}",
            cert=cert,
            log_path=directory / "server.log",
            database_url=database_url,
            env=env,
            redis=redis,
        )
        server.manage("migrate", "--no-input", "-v0")
        server.manage("demo", "--persons", "300", "--no-progress")
        facts = json.loads(
            server.manage("shell", "-v0", "-c", SETUP).stdout.strip().splitlines()[-1]
        )
        server.campaign, server.community_area = facts["campaign"], facts["community_area"]
        server.extra["import_area"] = facts["import_area"]
        server.extra["token"] = server.manage("create_api_token", "worker").stdout.strip()
        with open(server.log_path, "w", encoding="utf-8") as log:
            server.process = subprocess.Popen(
                [PYTHON, "scripts/production_serve.py"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_healthy(server)
            yield server
        finally:
            server.process.terminate()
            try:
                server.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.process.kill()
    finally:
        redis.stop()
        with django_db_blocker.unblock(), psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(server: ProductionServer, username: str) -> requests.Session:
    session = server.session()
    page = session.get(f"{server.base}/accounts/login/", timeout=30)
    assert page.status_code == 200
    response = session.post(
        f"{server.base}/accounts/login/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": csrf_token(page.text),
        },
        timeout=30,
    )
    assert response.status_code == 200 and response.url.rstrip("/") == server.base, response.url
    return session
