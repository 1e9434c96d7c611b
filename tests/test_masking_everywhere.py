"""The leak check (tests/plugins/leak_check.py) finds what it is there to find: full ID numbers
and mobiles in pages, JSON, workbooks, streamed files and log lines, and lets through only the
audited reveal and a request's own echo. Each test uses a recorder of its own, so that the
numbers planted here do not fail the session."""

import io
import json
import logging
import sys

import xlsxwriter
from django.http import FileResponse, HttpResponse, JsonResponse
from django.test import RequestFactory
from django.urls import resolve

from doorstep.core.masking import mask_id_number, mask_phone
from tests.plugins.leak_check import (
    LeakCheckHandler,
    LeakRecorder,
    check_response,
    find_numbers,
)

from .factories import unique_id_number

PHONE = "13912345678"


def _request(path: str, method: str = "get", **data):
    request = getattr(RequestFactory(), method)(path, data)
    request.resolver_match = resolve(path.split("?")[0])
    return request


def _check(response, path="/roster/", **data) -> LeakRecorder:
    recorder = LeakRecorder()
    check_response(_request(path, **data), response, recorder)
    return recorder


def test_a_full_id_number_or_mobile_in_a_page_is_reported_masked_and_a_masked_one_is_not():
    number = unique_id_number()
    recorder = _check(HttpResponse(f"<td>{number}</td><td>{PHONE}</td>"))
    assert [v.kind for v in recorder.violations] == ["ID number", "mobile"]
    assert number not in str(recorder.violations) and PHONE not in str(recorder.violations)
    masked = f"<td>{mask_id_number(number)}</td><td>{mask_phone(PHONE)}</td>"
    assert _check(HttpResponse(masked)).violations == []


def test_a_number_with_a_wrong_check_digit_or_inside_a_longer_token_is_no_id_number():
    number = unique_id_number()
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    assert find_numbers(f"{wrong} a{number} {number}9 0{PHONE}") == []


def test_numbers_are_found_in_json_values_workbook_cells_and_streamed_files():
    number = unique_id_number()
    # ensure_ascii: the name becomes \\u5f20..., which must not hide the phone glued to it
    body = json.dumps({"name": "张三" + PHONE, "id": number})
    assert len(_check(HttpResponse(body, content_type="application/json")).violations) == 2
    assert len(_check(JsonResponse({"rows": [{"phone": PHONE}]})).violations) == 1
    sheet = io.BytesIO()
    book = xlsxwriter.Workbook(sheet, {"in_memory": True})
    book.add_worksheet().write_row(0, 0, ["张三", number, int(PHONE)])  # a phone typed as a number
    book.close()
    streamed = FileResponse(io.BytesIO(sheet.getvalue()), filename="x.xlsx")
    recorder = _check(streamed)
    assert sorted(v.kind for v in recorder.violations) == ["ID number", "mobile"]
    assert "row 1" in recorder.violations[0].where
    # the download still reaches the test that asked for it, byte for byte
    assert b"".join(streamed.streaming_content) == sheet.getvalue()


def test_the_audited_reveal_and_a_requests_own_echo_are_let_through_and_nothing_else():
    number, other = unique_id_number(), unique_id_number()
    reveal = _check(HttpResponse(number), path="/roster/persons/1/reveal/id_number/", method="post")
    assert reveal.violations == []
    searched = _check(HttpResponse(f'<input value="{number}"> {other}'), method="post", q=number)
    assert searched.echoes_allowed == 1
    assert [v.kind for v in searched.violations] == ["ID number"]
    assert other[-4:] in searched.violations[0].snippet
    # a search whose results print the searched person's full number is no echo: only the form
    # field that shows what was typed is
    shown = _check(HttpResponse(f"<td>{number}</td>"), method="post", q=number)
    assert shown.echoes_allowed == 0 and [v.kind for v in shown.violations] == ["ID number"]
    textarea = _check(
        HttpResponse(f"<textarea name=q>{number}</textarea>"), method="post", q=number
    )
    assert textarea.echoes_allowed == 1 and textarea.violations == []


def test_a_number_in_the_access_log_line_or_the_next_url_is_a_leak_echo_or_not():
    """What runserver or gunicorn would log for the request (method, path, query), and the URL
    the answer sends the browser to: a number there is written to logs and history."""
    number = unique_id_number()
    in_query = _check(HttpResponse("ok"), q=number)
    assert [(v.where, v.kind) for v in in_query.violations] == [("access log", "ID number")]
    assert in_query.echoes_allowed == 0
    assert number not in str(in_query.violations)  # the report masks it
    encoded = _check(
        HttpResponse("ok"), path=f"/roster/?q=%20{number[:9]}%{ord(number[9]):X}{number[10:]}"
    )
    assert [v.where for v in encoded.violations] == ["access log"]
    for header in ("Location", "HX-Redirect", "HX-Push-Url"):
        response = HttpResponse("")
        response[header] = f"/accounts/login/?next=/roster/%3Fq%3D{PHONE}"
        recorder = _check(response, method="post")
        assert [(v.where, v.kind) for v in recorder.violations] == [(f"{header} header", "mobile")]
    clean = HttpResponse("")
    clean["Location"] = "/roster/?s=Xy3abc"
    assert _check(clean).violations == [] and _check(clean).access_lines_read == 1


def _record(message, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("doorstep", logging.ERROR, __file__, 1, message, args, exc_info)


def test_log_lines_are_read_as_the_console_writes_them_tracebacks_included():
    number = unique_id_number()
    recorder = LeakRecorder()
    handler = LeakCheckHandler(recorder)
    handler.handle(_record("row %s phone %s", number, PHONE))
    assert recorder.records_read == 1 and recorder.violations == []  # scrubbed by the filter
    try:
        raise ValueError(f"duplicate {number}")
    except ValueError:
        handler.handle(_record("import failed", exc_info=sys.exc_info()))
    # The scrub filter rewrites the traceback too: the number in the exception is masked.
    assert recorder.records_read == 2 and recorder.violations == []


def test_numbers_written_in_groups_with_dashes_or_full_width_are_found_too():
    number = unique_id_number()
    wide = number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    page = (
        f"<td>{number[:6]} {number[6:14]} {number[14:]}</td><td>{wide}</td>"
        "<td>180-3070-3945</td><td>+86 139 1234 5678</td><td>户号 500109001001010001</td>"
    )
    recorder = _check(HttpResponse(page))
    assert sorted(v.kind for v in recorder.violations) == ["ID number"] * 2 + ["mobile"] * 2
    assert number not in str(recorder.violations) and "3070-3945" not in str(recorder.violations)
    # the same numbers sent by the request (a form, never a URL) come back as its echo, in any
    # of their forms
    echoed = _check(HttpResponse(f"<input value='{wide}'>"), method="post", q=number)
    assert echoed.violations == [] and echoed.echoes_allowed == 1
