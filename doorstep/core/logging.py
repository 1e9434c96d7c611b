"""A logging filter that keeps resident ID numbers and mobile numbers out of every log line."""

import datetime
import logging
import re

from pythonjsonlogger.json import JsonFormatter

# Any run of 11 or more digits (an ID number, a mobile, or either glued to other digits) keeps
# only enough to tell two apart in a log: the first six of an ID, the first three of a phone.
# A run is read as people write numbers and as the leak check reads them
# (registry.validation.find_personal_numbers): whole, in groups with a space, dash or dot between
# them ("180-3070-3945", "500103 19630111 2736", "+86 139 1234 5678"), or in full-width digits.
_DIGIT = "0-9\uff10-\uff19"
_LONG_DIGITS = re.compile(
    rf"[{_DIGIT}](?:[ \-.\u3000\u2010-\u2014]?[{_DIGIT}]){{10,}}[0-9Xx\uff38\uff58]?"
)
_TO_ASCII = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")
_SEPARATORS = re.compile(r"[ \-.\u3000\u2010-\u2014]")


def _mask(match: re.Match) -> str:
    text = _SEPARATORS.sub("", match.group(0).translate(_TO_ASCII))
    head = 6 if len(text) >= 15 else 3
    return text[:head] + "*" * (len(text) - head - 4) + text[-4:]


def scrub(text: str) -> str:
    return _LONG_DIGITS.sub(_mask, text)


_TRACEBACKS = logging.Formatter()


class ScrubPersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and not record.exc_text:
            # An exception's text can carry a number too (a unique-constraint error quoting
            # the row, say): the formatter prints `exc_text` when it is set, so set it scrubbed.
            record.exc_text = scrub(_TRACEBACKS.formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


class JsonLinesFormatter(JsonFormatter):
    """One JSON object a line (time, level, logger, message and the record's extra fields), for
    log shippers. The whole line is scrubbed once more: extra fields (a request object, a path
    with a query string) and tracebacks (which this formatter renders itself, ignoring the
    filter's `exc_text`) could carry a number the message filter never saw."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fmt", "{asctime}{levelname}{name}{message}")
        kwargs.setdefault("style", "{")
        kwargs.setdefault(
            "rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"}
        )
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def formatTime(self, record, datefmt=None):
        return datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
            timespec="milliseconds"
        )

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))
