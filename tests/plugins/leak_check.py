"""Masking everywhere: a pytest plugin that reads every response, export and log line the test
run produces and fails the session if a full resident ID number or mobile number shows up.

Register it in tests/conftest.py with `pytest_plugins = ["tests.plugins.leak_check"]` (or pass
`-p tests.plugins.leak_check`). The tests then run as usual; at the end the session fails with a
list of violations (test, URL, status, where in the body) if there are any.

What is read
- Responses: every response Django produces, through `BaseHandler.get_response` (the test
  client, and the live server of the browser tests). HTML and text as text, JSON value by value
  (so escaped Chinese next to a number cannot hide it), XLSX cell by cell (python-calamine),
  CSV as text. Streamed responses (`FileResponse`) are read and handed back unchanged.
- Log lines: a handler on the root logger formats every record the way the console handler
  does (its `ScrubPersonalDataFilter`, its format, tracebacks included) and reads the result:
  what reaches a real log file, not what the code passed to the logger.
- Access log lines: for every request, what runserver or gunicorn write for it (method, full
  path and query, percent-decoded), and the URLs a response sends the browser to next (a
  redirect's Location, htmx's HX-Redirect and HX-Push-Url), which become access log lines and
  browser history of their own. No echo is let through here: a number in a URL is a leak even
  when the request carried it itself.

What is allowed (and why)
- `registry:person_reveal`: the audited reveal itself (registry.services.person_reveal writes
  the audit row before it answers).
- `imports:job_rejections`: the rejected-rows workbook carries the original values of every
  rejected row, so that a community can correct and re-send them. It leaves the server only
  through this download, which asks for a purpose and audits; the plugin accepts full numbers
  in it only when the audit row of that download exists. The same rows on disk (the stored
  upload in IMPORT_FILE_DIR and the workbook's temporary file, unlinked as soon as it is open)
  are the job's own inputs, never served except through that download, so they are not read
  here.
- `screening:notice_slips`: the grid worker's own work phone, printed on the slip so that the
  household can call back (inside `<div class="who">`). A resident's number anywhere else on
  the slip is still a violation.
- Echoes: a number the request itself carried (a query parameter, a form field, the JSON body)
  may come back in that request's own answer: the search box keeps what was searched for, a
  refused form shows what was typed, the language switch carries the page's URL. It tells the
  caller nothing they did not send. Only that exact value is let through: any other number in
  the same answer is still a violation. `--leak-check-no-echo` turns this off, to list them.
Everything else, every page, partial, API answer, export and log line, must show masked values
only (ARCHITECTURE.md rule 5: masked in every list, form and history row).

What counts as a number
- ID number: 18 characters, 17 digits and a digit or X, with a correct check digit and a real
  birth date (python-stdnum's `calc_check_digit` and `get_birth_date`). Not `ric.is_valid`: it
  also requires the county to have existed in the birth year, which rejects real cards (and
  every number of the test district, 500109, created in 1997).
- Mobile: 1[3-9] and nine digits.
Both must stand alone (no letter or digit right before or after), so a hex token or a longer
run of digits is not taken for one. They are found written whole, and also as the importer reads
them: "500103 19630111 2736", full-width digits, "180-3070-3945" are the same numbers once its
own normalisation has folded them (registry.validation.find_personal_numbers, built on
normalize_id_number / normalize_phone), so a page that shows a number in groups leaks it too.

Formulas
- Every XLSX response is also read for formula cells (an `<f>` element in any worksheet): the
  app writes text unless it made a number itself (core/sheets/writing.py), so a formula in a
  download is a cell an upload or a form turned into one ("=HYPERLINK(…)"). Reported as a
  violation of its own kind.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import threading
import zipfile
from dataclasses import dataclass

import pytest
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

_ID_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9][0-9]{9}(?![0-9A-Za-z])")
_WORKER_LINE = re.compile(r'<div class="who">.*?</div>', re.DOTALL)
_CONTEXT_CHARS = 40


def is_resident_id(candidate: str) -> bool:
    number = candidate.upper()
    try:
        ric.get_birth_date(number)
    except StdnumError:
        return False
    return ric.calc_check_digit(number) == number[-1]


def mask(value: str) -> str:
    """The report of a violation must not become a leak of its own."""
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


@dataclass(frozen=True)
class Finding:
    kind: str  # "ID number" or "mobile"
    value: str  # the number, normalised (what an echo is compared by)
    start: int
    end: int
    raw: str = ""  # as written in the text, when it was written in groups


def find_numbers(text: str) -> list[Finding]:
    from doorstep.registry.validation import find_personal_numbers

    found = [
        Finding("ID number", m.group(0).upper(), m.start(), m.end(), m.group(0))
        for m in _ID_CANDIDATE.finditer(text)
        if is_resident_id(m.group(0))
    ]
    found += [
        Finding("mobile", m.group(0), m.start(), m.end(), m.group(0))
        for m in _MOBILE.finditer(text)
    ]
    seen = {(f.start, f.end) for f in found}
    for start, end, kind, number in find_personal_numbers(text):
        if not any(start <= s and e <= end for s, e in seen):
            found.append(
                Finding(
                    "ID number" if kind == "id_number" else "mobile",
                    number,
                    start,
                    end,
                    text[start:end],
                )
            )
    return found


def masked_text(text: str) -> str:
    for finding in sorted(find_numbers(text), key=lambda f: -f.start):
        text = text[: finding.start] + mask(finding.value) + text[finding.end :]
    return text


def _snippet(text: str, finding: Finding) -> str:
    before = text[max(0, finding.start - _CONTEXT_CHARS) : finding.start]
    after = text[finding.end : finding.end + _CONTEXT_CHARS]
    shown = f"…{masked_text(before)}[{mask(finding.value)}]{masked_text(after)}…"
    return shown.replace("\n", " ")


@dataclass
class Violation:
    test: str
    source: str  # "GET /roster/ → 200" or "log record"
    where: str
    kind: str
    snippet: str

    def line(self) -> str:
        return f"{self.test}\n    {self.source} · {self.where} · {self.kind}: {self.snippet}"


class LeakRecorder:
    def __init__(self) -> None:
        self.violations: list[Violation] = []
        self.current_test = "(outside a test)"
        self.responses_read = 0
        self.records_read = 0
        self.access_lines_read = 0
        self.echoes_allowed = 0
        self.allow_echoes = True
        self._lock = threading.Lock()

    def add(self, **fields) -> None:
        with self._lock:
            self.violations.append(Violation(test=self.current_test, **fields))


RECORDER = LeakRecorder()


# -- responses ---------------------------------------------------------------------------------
def _body_bytes(response) -> bytes:
    if getattr(response, "streaming", False):
        data = b"".join(response.streaming_content)
        # Hand the same bytes back: the test reading the download must see what we saw.
        response.streaming_content = [data]
        return data
    return response.content


def _xlsx_cells(data: bytes):
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    for sheet_name in book.sheet_names:
        rows = book.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)  # a number typed as a number is still a number
                text = str(value)
                if text:
                    yield f"sheet {sheet_name!r} row {r} column {c}", text


def _json_strings(value, path="$"):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _json_strings(item, f"{path}[{i}]")
    elif value is not None:
        yield path, str(value)


_FORMULA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")


def formula_cells(data: bytes) -> list[str]:
    """The worksheets of an XLSX that hold a formula cell."""
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return []
    return [
        name
        for name in book.namelist()
        if name.startswith("xl/worksheets/") and _FORMULA.search(book.read(name))
    ]


def body_pieces(content_type: str, data: bytes):
    """(where, text) pieces of a response body, each read for numbers on its own."""
    if data[:2] == b"PK" and zipfile.is_zipfile(io.BytesIO(data)):
        try:
            yield from _xlsx_cells(data)
            return
        except Exception as error:  # not a workbook after all: read it as bytes below
            yield "zip (not a readable workbook: " + type(error).__name__ + ")", ""
    text = data.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            parsed = json.loads(text)
        except ValueError:
            pass
        else:
            yield from _json_strings(parsed)
            return
    yield "body", text


def _allowed(url_name: str, request, text: str, finding: Finding) -> bool:
    if url_name == "registry:person_reveal":
        return True
    if url_name == "screening:notice_slips" and finding.kind == "mobile":
        return any(
            line.start() <= finding.start and finding.end <= line.end()
            for line in _WORKER_LINE.finditer(text)
        )
    if url_name == "imports:job_rejections":
        return _rejections_download_audited(request)
    return False


def _rejections_download_audited(request) -> bool:
    from doorstep.core.models import AuditEvent

    job_id = str((request.resolver_match.kwargs or {}).get("job_id", ""))
    return AuditEvent.objects.filter(action="import.rejections.export", object_id=job_id).exists()


def numbers_sent(request) -> set[str]:
    """The full numbers the request carried itself (query string, form fields, JSON body)."""
    from django.http.multipartparser import MultiPartParserError

    sent = [v for _key, values in request.GET.lists() for v in values]
    if request.method == "POST":
        with contextlib.suppress(MultiPartParserError, OSError):  # nothing readable to echo
            sent += [v for _key, values in request.POST.lists() for v in values]
    body = getattr(request, "_body", b"") or b""
    if body and "json" in request.META.get("CONTENT_TYPE", ""):
        sent.append(body.decode("utf-8", errors="replace"))
    return {f.value.upper() for f in find_numbers("\n".join(sent))}


NEXT_URL_HEADERS = ("Location", "HX-Redirect", "HX-Push-Url")


def check_access_log(request, response, recorder: LeakRecorder = RECORDER) -> None:
    """The access log line of this request and the URLs its answer sends the browser to."""
    from urllib.parse import unquote_plus

    lines = [("access log", f"{request.method} {request.get_full_path()}")]
    for header in NEXT_URL_HEADERS:
        if hasattr(response, "get") and response.get(header):
            lines.append((f"{header} header", response[header]))
    recorder.access_lines_read += 1
    for where, line in lines:
        text = unquote_plus(line)
        for finding in find_numbers(text):
            recorder.add(
                source=f"{request.method} {masked_text(text)[:120]} → {response.status_code}",
                where=where,
                kind=finding.kind,
                snippet=_snippet(text, finding),
            )


def check_response(request, response, recorder: LeakRecorder = RECORDER) -> None:
    recorder.responses_read += 1
    check_access_log(request, response, recorder)
    match = getattr(request, "resolver_match", None)
    url_name = match.view_name if match else ""
    content_type = response.get("Content-Type", "") if hasattr(response, "get") else ""
    data = _body_bytes(response)
    if not data:
        return
    path = masked_text(request.get_full_path())
    source = f"{request.method} {path} → {response.status_code}"
    if url_name:
        source += f" ({url_name})"
    echoes = numbers_sent(request) if recorder.allow_echoes else set()
    if data[:2] == b"PK":
        for sheet in formula_cells(data):
            recorder.add(source=source, where=sheet, kind="formula cell", snippet="<f>")
    for where, text in body_pieces(content_type, data):
        for finding in find_numbers(text):
            if _allowed(url_name, request, text, finding):
                continue
            if finding.value.upper() in echoes and _echo_place(content_type, text, finding):
                recorder.echoes_allowed += 1
                continue
            recorder.add(
                source=source, where=where, kind=finding.kind, snippet=_snippet(text, finding)
            )


_FORM_VALUE = re.compile(
    r"""<input\b[^>]*\bvalue=(?:"[^"]*|'[^']*|[^\s>"']*)$|<textarea\b[^>]*>[^<]*$""", re.I
)


def _echo_place(content_type: str, text: str, finding: Finding) -> bool:
    """Where a number the request sent may come back: in a page, only inside a form field (the
    form re-shown with what was typed, say after an error); a search whose results printed the
    matched person's full number would otherwise pass as an echo. Other bodies (an API's error
    naming the value it refused) may carry it anywhere."""
    if "html" not in content_type:
        return True
    tag_start = text.rfind("<", 0, finding.start)
    return tag_start >= 0 and _FORM_VALUE.search(text[tag_start : finding.start]) is not None


def _patch_get_response():
    from django.core.handlers.base import BaseHandler

    original = BaseHandler.get_response

    def get_response(self, request):
        response = original(self, request)
        check_response(request, response)
        return response

    BaseHandler.get_response = get_response
    return lambda: setattr(BaseHandler, "get_response", original)


# -- log records -------------------------------------------------------------------------------
class LeakCheckHandler(logging.Handler):
    """Formats each record as the console handler would and reads the line it would write."""

    def __init__(self, recorder: LeakRecorder = RECORDER) -> None:
        from django.conf import settings

        from doorstep.core.logging import ScrubPersonalDataFilter

        super().__init__()
        self.recorder = recorder
        self.addFilter(ScrubPersonalDataFilter())
        fmt = settings.LOGGING.get("formatters", {}).get("plain", {}).get("format")
        self.setFormatter(logging.Formatter(fmt))

    def emit(self, record: logging.LogRecord) -> None:
        self.recorder.records_read += 1
        try:
            line = self.format(record)
        except Exception:  # a broken record is logging's problem, not a leak
            return
        for finding in find_numbers(line):
            self.recorder.add(
                source=f"log record {record.name} {record.levelname}",
                where=f"{record.pathname}:{record.lineno}",
                kind=finding.kind,
                snippet=_snippet(line, finding),
            )


@pytest.fixture(autouse=True)
def _leak_check_log_handler():
    """On the root logger for every test: Django's dictConfig (run at setup, or again by a test)
    replaces the root handlers, so the handler is put back each time it went missing."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, LeakCheckHandler)), None)
    if handler is None:
        root.addHandler(LeakCheckHandler())
    yield


@pytest.fixture(autouse=True, scope="session")
def _leak_check_responses():
    restore = _patch_get_response()
    yield
    restore()


# -- hooks -------------------------------------------------------------------------------------
def pytest_addoption(parser):
    parser.addoption(
        "--leak-check-no-echo",
        action="store_true",
        help="leak_check: report numbers a request carried itself when its answer shows them",
    )


def pytest_configure(config):
    RECORDER.allow_echoes = not config.getoption("--leak-check-no-echo")


def pytest_runtest_setup(item):
    RECORDER.current_test = item.nodeid


def pytest_runtest_teardown(item):
    RECORDER.current_test = f"{item.nodeid} (teardown)"


def pytest_sessionfinish(session, exitstatus):
    if RECORDER.violations and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    reporter = terminalreporter
    summary = (
        f"leak check: {RECORDER.responses_read} responses, {RECORDER.access_lines_read} access "
        f"log lines and {RECORDER.records_read} log records read, "
        f"{len(RECORDER.violations)} full ID or mobile numbers or formula cells outside the "
        "allowed places "
        f"({RECORDER.echoes_allowed} echoes of a number the request sent let through)"
    )
    if not RECORDER.violations:
        reporter.write_line(summary)
        return
    reporter.section("full ID / mobile numbers or formulas found (leak_check)", red=True)
    for violation in RECORDER.violations:
        reporter.write_line(violation.line())
    reporter.write_line(summary, red=True)
