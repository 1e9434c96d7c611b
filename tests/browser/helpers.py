"""What the browser tests share besides fixtures: where Chromium is, why a test is skipped."""

import os
import re
import shutil
from pathlib import Path

SKIP_REASON = "Chromium not found: apt-get install chromium fonts-wqy-microhei"
DEBIAN_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PASSWORD = "test-password-123"  # what tests.factories.UserFactory sets

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright

    PLAYWRIGHT_IMPORT_ERROR: ImportError | None = None
except ImportError as error:  # pragma: no cover - depends on the machine
    PlaywrightError = Exception  # type: ignore[assignment,misc]
    expect = None  # type: ignore[assignment]
    sync_playwright = None  # type: ignore[assignment]
    PLAYWRIGHT_IMPORT_ERROR = error


def chromium_path() -> str | None:
    """Debian's Chromium; DOORSTEP_CHROMIUM names another binary (or a missing one, to check
    that the suite skips cleanly)."""
    if override := os.environ.get("DOORSTEP_CHROMIUM"):
        return override if os.access(override, os.X_OK) else None
    if os.access(DEBIAN_CHROMIUM, os.X_OK):
        return DEBIAN_CHROMIUM
    return shutil.which("chromium")


def skip_reason() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    if PLAYWRIGHT_IMPORT_ERROR is not None:
        return f"{SKIP_REASON} (and: pip install playwright; {PLAYWRIGHT_IMPORT_ERROR})"
    if chromium_path() is None:
        return SKIP_REASON
    return None


def safe_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_")[:120]
