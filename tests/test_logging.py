import logging

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
