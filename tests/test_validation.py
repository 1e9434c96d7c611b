"""Parsers and validators of roster cells: examples plus properties over generated input."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from doorstep.core.masking import mask_id_number, mask_phone
from doorstep.core.text import clean_text
from doorstep.registry.validation import (
    FieldError,
    normalize_id_number,
    parse_date,
    validate_id,
    validate_phone,
    validate_resident_id,
)

from .factories import valid_id_number

TODAY = datetime.date(2026, 11, 29)
births = st.dates(min_value=datetime.date(1900, 1, 1), max_value=TODAY)
regions = st.sampled_from(["500109", "500103", "420102", "110101", "510104"])


def make_id(region: str, birth: datetime.date, order: int) -> str:
    body = f"{region}{birth:%Y%m%d}{order:03d}"
    return body + ric.calc_check_digit(body + "0")


@given(regions, births, st.integers(0, 999))
def test_every_well_formed_id_validates_and_yields_its_birth_date(region, birth, order):
    assert validate_resident_id(make_id(region, birth, order), on=TODAY) == birth


@given(regions, births, st.integers(0, 999), st.integers(0, 16), st.integers(1, 9))
def test_changing_one_digit_is_always_caught(region, birth, order, position, delta):
    number = make_id(region, birth, order)
    digit = (int(number[position]) + delta) % 10
    broken = number[:position] + str(digit) + number[position + 1 :]
    with pytest.raises(FieldError):
        validate_resident_id(broken, on=TODAY)


def test_wrong_check_digit_says_so():
    number = valid_id_number()
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    with pytest.raises(FieldError, match=r"校验位|check digit"):
        validate_resident_id(wrong, on=TODAY)


def test_birth_date_in_the_future_is_rejected():
    future = make_id("500109", datetime.date(2027, 3, 1), 11)
    with pytest.raises(FieldError) as error:
        validate_resident_id(future, on=TODAY)
    assert error.value.field == "id_number"


def test_unknown_region_is_rejected():
    with pytest.raises(FieldError):
        validate_resident_id(make_id("990101", datetime.date(1990, 1, 1), 1), on=TODAY)


def test_fifteen_digit_old_numbers_are_explained():
    with pytest.raises(FieldError, match="15"):
        validate_resident_id("500109900101123", on=TODAY)


@given(births, st.integers(0, 999))
def test_typed_variants_normalise_to_the_same_number(birth, order):
    number = make_id("500109", birth, order)
    fullwidth = number.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})
    spaced = f" {number[:6]} {number[6:14]} {number[14:].lower()} "
    assert normalize_id_number(fullwidth) == number
    assert normalize_id_number(spaced) == number


def test_infant_without_number_is_accepted_only_when_no_type_demands_one():
    assert validate_id(None, "") == ("none", None, None)
    with pytest.raises(FieldError):
        validate_id("passport", "")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("８６１３８００１３８０００", "13800138000"),
        (13800138000.0, "13800138000"),
        ("023-68281234", "02368281234"),
        ("", ""),
    ],
)
def test_phone_normalisation(raw, expected):
    assert validate_phone(raw) == expected


@pytest.mark.parametrize("raw", ["1380013800", "138001380001", "12345", "abc", "10000000000"])
def test_bad_phones_are_rejected_with_a_reason(raw):
    with pytest.raises(FieldError) as error:
        validate_phone(raw)
    assert error.value.field == "phone" and error.value.message


def test_ten_digit_mobile_names_the_digit_count():
    with pytest.raises(FieldError, match="10"):
        validate_phone("1380013800")


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_valid_mobiles_survive_formatting(number):
    try:
        plain = validate_phone(number)
    except FieldError:
        return  # a prefix phonenumbers does not allocate: rejected whatever the formatting
    formatted = f"+86 {number[:3]}-{number[3:7]}-{number[7:]}"
    assert validate_phone(formatted) == plain == number


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1990年1月2日", datetime.date(1990, 1, 2)),
        ("1990/1/2", datetime.date(1990, 1, 2)),
        ("1990-01-02", datetime.date(1990, 1, 2)),
        ("19900102", datetime.date(1990, 1, 2)),
        (32875, datetime.date(1990, 1, 2)),  # an Excel serial date
        (datetime.datetime(1990, 1, 2, 8, 0), datetime.date(1990, 1, 2)),
        ("", None),
    ],
)
def test_dates_written_as_text(raw, expected):
    assert parse_date(raw) == expected


@given(st.text(max_size=20))
def test_parse_date_either_parses_or_raises_field_error(text):
    try:
        parse_date(text)
    except FieldError as error:
        assert error.field == "birth_date"


@given(st.text(max_size=40))
def test_clean_text_is_idempotent_and_trimmed(text):
    once = clean_text(text)
    assert clean_text(once) == once
    assert once == once.strip()


@given(st.from_regex(r"[1-9][0-9]{16}[0-9X]", fullmatch=True))
def test_masked_id_keeps_region_and_tail_only(number):
    masked = mask_id_number(number)
    assert masked[:6] == number[:6] and masked[-4:] == number[-4:]
    assert masked[6:14] == "********" and len(masked) == 18


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_masked_phone_hides_the_middle(number):
    assert mask_phone(number) == number[:3] + "****" + number[-4:]
