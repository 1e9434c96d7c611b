"""A logging filter that keeps resident ID numbers and mobile numbers out of every log line."""

import logging
import re

_ID_NUMBER = re.compile(r"(?<![0-9])([1-9][0-9]{5})([0-9]{8})([0-9]{3}[0-9Xx])(?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])(1[3-9][0-9])([0-9]{4})([0-9]{4})(?![0-9])")


def scrub(text: str) -> str:
    text = _ID_NUMBER.sub(lambda m: m.group(1) + "********" + m.group(3)[-4:], text)
    return _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


class ScrubPersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True
