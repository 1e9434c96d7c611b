"""The production profile over HTTPS: log in, read pages, submit a visit through the API, an
import run by the task worker, /healthz, JSON logs without personal data; then Redis stopped
under it (the app keeps serving, read budgets fall back and say so, nothing is lost) and back."""

import datetime
import re
import subprocess
import time
import uuid

import pytest
import requests

from tests.factories import unique_id_number

from .server import PYTHON, ROOT, csrf_token, login, production_env, wait_healthy

pytestmark = pytest.mark.postgresql

FULL_ID = re.compile(r"[1-9][0-9]{16}[0-9X]")


def _visit_body(server, session) -> tuple[dict, int]:
    """A screened visit of the worker's first household, every member present and well."""
    base = f"{server.base}/api/campaigns/{server.campaign}"
    households = session.get(f"{base}/households", timeout=30)
    assert households.status_code == 200, households.text
    household = households.json()["items"][0]
    members = session.get(f"{base}/households/{household['household_id']}/members", timeout=30)
    assert members.status_code == 200
    body = {
        "client_uuid": str(uuid.uuid4()),
        "household_id": household["household_id"],
        "outcome": "screened",
        "visited_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "person_checks": [
            {"person_id": m["id"], "presence": "present", "temperature": "36.6"}
            for m in members.json()
        ],
    }
    return body, household["household_id"]


def _bearer(server) -> requests.Session:
    session = server.session()
    session.headers["Authorization"] = f"Bearer {server.extra['token']}"
    return session


def _import_through_the_pages(server, session, rows: int) -> str:
    """Upload a roster as the community secretary, start it; returns the job's page URL."""
    lines = ["户号,姓名,身份证号,联系电话,与户主关系,地址"]
    for n in range(rows):
        number = f"PROD-{uuid.uuid4().hex[:8]}"
        lines.append(f"{number},测试{n},{unique_id_number()},,户主,天生路{n}号")
    upload_page = session.get(f"{server.base}/imports/roster/new/", timeout=30)
    assert upload_page.status_code == 200
    response = session.post(
        f"{server.base}/imports/roster/new/",
        data={
            "area": server.extra["import_area"],
            "csrfmiddlewaretoken": csrf_token(upload_page.text),
        },
        files={"file": ("roster.csv", "\n".join(lines).encode(), "text/csv")},
        timeout=60,
    )
    assert response.status_code == 200 and "/imports/" in response.url, response.text[:500]
    job_url = response.url
    selects = re.findall(
        r'<select name="(column_\d+)"[^>]*>.*?</select>', response.text, flags=re.DOTALL
    )
    mapping = {}
    for name in selects:
        block = re.search(
            rf'<select name="{name}"[^>]*>(.*?)</select>', response.text, flags=re.DOTALL
        ).group(1)
        chosen = re.search(r'<option value="([^"]*)" selected>', block)
        mapping[name] = chosen.group(1) if chosen else ""
    started = session.post(
        job_url + "start/",
        data={**mapping, "csrfmiddlewaretoken": csrf_token(response.text)},
        timeout=60,
    )
    assert started.status_code == 200, started.text[:500]
    return job_url


def _job_status(server, job_url: str) -> str:
    job_id = job_url.rstrip("/").rsplit("/", 1)[-1]
    with server.db() as db:
        return db.execute(
            "SELECT status FROM imports_importjob WHERE id = %s", [job_id]
        ).fetchone()[0]


def _wait_for_job(server, job_url: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = _job_status(server, job_url)
        if status in ("done", "failed"):
            return status
        time.sleep(0.5)
    return status


def test_healthz_says_the_database_and_redis_answer(production_server):
    response = requests.get(
        f"{production_server.base}/healthz", verify=str(production_server.cert), timeout=10
    )
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
    # plain http is sent to https, with HSTS on the answer over TLS
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]


def test_static_files_are_served_by_the_app_server(production_server):
    session = login(production_server, "community")
    home = session.get(production_server.base + "/", timeout=30)
    stylesheet = re.search(r'href="(/static/[^"]+\.css)"', home.text).group(1)
    # collected with hashed names, served compressed and cached for good by WhiteNoise
    assert re.search(r"\.[0-9a-f]{12}\.css$", stylesheet)
    response = session.get(
        production_server.base + stylesheet, headers={"Accept-Encoding": "gzip"}, timeout=30
    )
    assert response.status_code == 200
    assert "immutable" in response.headers["Cache-Control"]


def test_log_in_and_read_pages(production_server):
    session = login(production_server, "community")
    home = session.get(production_server.base + "/", timeout=30)
    assert home.status_code == 200 and production_server.community_area in home.text
    roster = session.get(production_server.base + "/roster/", timeout=30)
    assert roster.status_code == 200 and "<table" in roster.text


def test_submit_a_visit_through_the_api(production_server):
    session = _bearer(production_server)
    body, household_id = _visit_body(production_server, session)
    url = f"{production_server.base}/api/campaigns/{production_server.campaign}/visits"
    first = session.post(url, json=body, timeout=30)
    assert first.status_code == 201, first.text
    again = session.post(url, json=body, timeout=30)  # a retry answers with the same visit
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    with production_server.db() as db:
        stored = db.execute(
            "SELECT count(*) FROM screening_visit WHERE client_uuid = %s", [body["client_uuid"]]
        ).fetchone()[0]
        state = db.execute(
            # one progress row per campaign: the demo's sweep holds the same household too
            "SELECT state FROM screening_householdprogress"
            " WHERE household_id = %s AND campaign_id = %s",
            [household_id, production_server.campaign],
        ).fetchone()[0]
    assert (stored, state) == (1, "screened")


def test_the_task_worker_runs_an_import(production_server):
    session = login(production_server, "community")
    job_url = _import_through_the_pages(production_server, session, rows=5)
    assert _wait_for_job(production_server, job_url) == "done"
    page = session.get(job_url, timeout=30)
    assert page.status_code == 200
    assert any(
        line.get("logger", "").startswith("rq.") and "Job OK" in line.get("message", "")
        for line in production_server.log_lines()
    ), "the RQ worker did not report the job"


def test_logs_are_json_lines_without_personal_data(production_server):
    session = login(production_server, "community")
    number = unique_id_number()
    response = session.get(f"{production_server.base}/roster/", params={"q": number}, timeout=30)
    assert response.status_code == 200
    time.sleep(0.5)  # the access line is written after the answer
    raw = production_server.raw_log()
    lines = [line for line in raw.splitlines() if line.strip()]
    not_json = [line for line in lines if not line.startswith("{")]
    assert not not_json, not_json[:5]
    assert number not in raw and not FULL_ID.search(raw)
    access = [
        line
        for line in production_server.log_lines()
        if line.get("logger") == "gunicorn.access"
        and line.get("path", "").startswith("/roster/?q=")
    ]
    assert access and access[-1]["status"] == 200
    assert number[:6] in access[-1]["path"] and number not in access[-1]["path"]


def test_production_refuses_to_start_without_secret_key_or_allowed_hosts(production_server):
    env = production_env(DATABASE_URL=production_server.database_url)
    result = subprocess.run(
        [PYTHON, "scripts/production_serve.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "DOORSTEP_SECRET_KEY" in result.stderr and "DOORSTEP_ALLOWED_HOSTS" in result.stderr
    assert "gunicorn" not in result.stderr  # refused before anything was started


def test_redis_down_the_app_keeps_serving_and_loses_nothing(production_server):
    server = production_server
    worker, community = _bearer(server), login(server, "community")
    server.redis.stop()
    try:
        # healthz names Redis and fails, so a load balancer sees it
        health = requests.get(f"{server.base}/healthz", verify=str(server.cert), timeout=10)
        assert health.status_code == 503
        assert health.json()["checks"] == {"database": "ok", "redis": "failed (ConnectionError)"}
        # pages, logins and the API keep answering
        assert community.get(server.base + "/roster/", timeout=30).status_code == 200
        assert login(server, "street").get(server.base + "/", timeout=30).status_code == 200
        body, _household = _visit_body(server, worker)
        url = f"{server.base}/api/campaigns/{server.campaign}/visits"
        assert worker.post(url, json=body, timeout=30).status_code in (200, 201)
        # an import asked for now is queued in the database and run by its worker
        job_url = _import_through_the_pages(server, community, rows=3)
        assert _wait_for_job(server, job_url) == "done"
        with server.db() as db:
            stored = db.execute(
                "SELECT count(*) FROM screening_visit WHERE client_uuid = %s",
                [body["client_uuid"]],
            ).fetchone()[0]
        assert stored == 1
        messages = [line.get("message", "") for line in server.log_lines()]
        assert any("read budgets are counted per process" in m for m in messages)
        assert any("queued in the database instead" in m for m in messages)
    finally:
        server.redis.start()
    # Redis back: healthy again, and it says so
    wait_healthy(server, timeout=30)
    assert worker.get(f"{server.base}/api/me", timeout=30).status_code == 200
