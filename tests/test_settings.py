"""The production profile passes Django's deployment checks with no warning."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def production_env(tmp_path) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "doorstep.settings.production",
        "DOORSTEP_SECRET_KEY": secrets.token_urlsafe(60),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "DOORSTEP_ALLOWED_HOSTS": "doorstep.example.cn",
    }


def test_production_profile_passes_check_deploy(tmp_path):
    env = production_env(tmp_path)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DOORSTEP_SECRET_KEY"}
    env.update(
        DJANGO_SETTINGS_MODULE="doorstep.settings.production",
        DATABASE_URL=f"sqlite:///{tmp_path / 'p.sqlite3'}",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "DOORSTEP_SECRET_KEY" in result.stderr


PRODUCTION_HEADERS_PROBE = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/healthz", secure=True, headers={"host": "doorstep.example.cn"})
print(json.dumps({"status": response.status_code, **{k.lower(): v for k, v in response.items()}}))
"""


def test_production_responses_carry_the_security_headers(tmp_path):
    env = production_env(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_HEADERS_PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    headers = json.loads(result.stdout.strip().splitlines()[-1])
    assert headers["status"] == 200
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    policy = headers["content-security-policy"]
    for directive in ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"):
        assert directive in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0]
