"""A logging filter that keeps resident ID numbers and mobile numbers out of every log line."""

import datetime
import logging
import re

from pythonjsonlogger.json import JsonFormatter

# Any run of 11 or more digits (an ID number, a mobile, or either glued to other digits) keeps
# only enough to tell two apart in a log: the first six of an ID, the first three of a phone.
_LONG_DIGITS = re.compile(r"[0-9]{11,}[0-9Xx]?")


def _mask(match: re.Match) -> str:
    text = match.group(0)
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
