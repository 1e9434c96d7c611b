"""Under `make test` a browser test that cannot find Chromium fails, naming what to install;
it is not skipped (a skipped browser test would let a broken page through unseen)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# About the browser tests, so it runs where they run (the SQLite run of make test).
pytestmark = pytest.mark.browser


def run_browser_test(var_dir: Path, **env) -> subprocess.CompletedProcess:
    """One browser test in a pytest of its own, with its own var/ (its test database is not
    the one of the run that calls it)."""
    parent = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "tests/browser/test_login.py::test_login_follows_next",
        ],
        cwd=ROOT,
        env={
            **parent,
            "DOORSTEP_VAR_DIR": str(var_dir),
            "DOORSTEP_CHROMIUM": "/nonexistent/chromium",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_without_chromium_make_test_fails_and_says_what_to_install(tmp_path):
    result = run_browser_test(tmp_path, DOORSTEP_REQUIRE_BROWSER="1")
    assert result.returncode != 0
    assert "browser tests cannot run" in result.stdout
    assert "apt-get install chromium fonts-wqy-microhei" in result.stdout
    assert " skipped" not in result.stdout.splitlines()[-1]
