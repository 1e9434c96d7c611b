import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from doorstep.core.logging import ScrubPersonalDataFilter, scrub

from .factories import unique_id_number


def test_log_records_lose_id_numbers_and_mobiles():
    number = unique_id_number()
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "row %s phone %s", (number, "13800138000"), None
    )
    ScrubPersonalDataFilter().filter(record)
    message = record.getMessage()
    assert number not in message and "13800138000" not in message
    assert number[:6] in message and "138****8000" in message


@given(st.from_regex(r"[1-9][0-9]{16}[0-9X]", fullmatch=True), st.text(max_size=10))
def test_scrub_never_leaves_a_full_id_number(number, noise):
    assert number not in scrub(f"{noise}{number}{noise}")


@pytest.mark.parametrize(
    "written",
    [
        "180-3070-3945",
        "500103 19630111 2736",
        "５００１０３１９６３０１１１２７３６",
        "+86 139 1234 5678",
        "500103.19630111.2736",
    ],
)
def test_scrub_reads_numbers_as_people_write_them(written):
    """Grouped, dotted and full-width numbers are masked like whole ones: the leak check and
    the import preview read them as numbers, so a log line must too."""
    scrubbed = scrub(f"搜索 {written} 结果")
    digits = "".join(
        c
        for c in written.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
        if c.isdigit()
    )
    assert digits not in "".join(c for c in scrubbed if c.isdigit() or c == "*")
    assert "*" in scrubbed and scrubbed.startswith("搜索 ") and scrubbed.endswith(" 结果")


def test_scrub_leaves_times_addresses_and_short_numbers():
    line = "2026-11-30 15:40:02 127.0.0.1:8000 GET /roster/?page=12 200 3.5ms 1,234 rows"
    assert scrub(line) == line


# -- every logger the app configures, and the servers' access logs ------------------------------
def _handlers_reached(logger: logging.Logger):
    """Every handler a record logged on `logger` reaches, with the filters it passes on the way:
    the logger's own, then each handler's."""
    current, filters = logger, list(logger.filters)
    while current is not None:
        for handler in current.handlers:
            yield handler, filters + list(handler.filters)
        if not current.propagate:
            return
        current = current.parent


def test_every_configured_logger_writes_through_the_scrub_filter():
    """Django's own loggers (its DEBUG console, runserver's access log "django.server") and
    every logger the app names: no handler is reached without the filter."""
    names = ["", "django", "django.server", "django.request", "doorstep", "axes"]
    names += [n for n in logging.root.manager.loggerDict if n.startswith(("django", "doorstep"))]
    unscrubbed = []
    for name in sorted(set(names)):
        logger = logging.getLogger(name)
        for handler, filters in _handlers_reached(logger):
            if handler.__class__.__name__ == "LeakCheckHandler" or type(
                handler
            ).__module__.startswith("_pytest"):
                continue  # the suite's own readers (pytest's capture; the leak check scrubs too)
            if not any(isinstance(f, ScrubPersonalDataFilter) for f in filters):
                unscrubbed.append(f"{name or 'root'} → {handler!r}")
    assert unscrubbed == []


def test_the_runserver_access_log_line_is_scrubbed(caplog):
    number = unique_id_number()
    handler = next(h for h, _f in _handlers_reached(logging.getLogger("django.server")))
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        (f"GET /roster/?q={number} HTTP/1.1", 200, 512),
        None,
    )
    for log_filter in handler.filters:
        log_filter.filter(record)
    line = handler.format(record)
    assert number not in line and number[:6] in line and "200" in line


def test_gunicorns_access_log_is_scrubbed(tmp_path):
    """A real gunicorn with the app's config writes its access log through the scrub filter,
    whatever handler it was given (here a file)."""
    import subprocess
    import time
    import urllib.error
    import urllib.request

    from .crash_helpers import GUNICORN, ROOT, free_port

    number, phone = unique_id_number(), "13912345678"
    # the config writes every log line, the access log's included, as JSON to stderr
    port, log = free_port(), tmp_path / "gunicorn.log"
    # the embedded profile whatever this run's database: an access log line is all this needs
    env = {
        **{k: v for k, v in __import__("os").environ.items() if k != "DATABASE_URL"},
        "DJANGO_SETTINGS_MODULE": "doorstep.settings.dev",
        "DOORSTEP_VAR_DIR": str(tmp_path),
        "DOORSTEP_DEBUG": "0",
    }
    server = subprocess.Popen(
        [
            GUNICORN,
            "-c",
            "python:doorstep.gunicorn_conf",
            "doorstep.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(log_file := log.open("w")),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz?id={number}&tel={phone}")
                break
            except urllib.error.HTTPError:
                break  # an answer (a 503 from an unmigrated database) still writes its log line
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        deadline = time.monotonic() + 30
        while "healthz" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, "gunicorn wrote no access log line"
            time.sleep(0.1)
        text = log.read_text()
    finally:
        __import__("os").killpg(server.pid, 9)
        server.wait(timeout=30)
        log_file.close()
    assert "/healthz?id=" in text
    assert number not in text and phone not in text
    assert number[:6] in text and "139****5678" in text
