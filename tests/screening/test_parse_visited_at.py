"""The time a worker writes on a paper form, read the way the worker meant it."""

import datetime

import pytest
from django.utils import timezone

from doorstep.screening.forms import parse_visited_at


def shanghai(*args: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(*args))


@pytest.mark.parametrize("raw", ["09:30", "0930", "9:30", "09：30"])
def test_a_time_alone_is_today_when_it_has_passed(raw):
    assert parse_visited_at(raw, now=shanghai(2020, 2, 3, 21, 0)) == shanghai(2020, 2, 3, 9, 30)


def test_a_time_alone_after_midnight_is_last_evening():
    # Typing the evening's forms at 00:20: 23:05 was yesterday, not 23 hours from now.
    now = shanghai(2020, 2, 4, 0, 20)
    assert parse_visited_at("2305", now=now) == shanghai(2020, 2, 3, 23, 5)
    assert parse_visited_at("00:10", now=now) == shanghai(2020, 2, 4, 0, 10)


def test_a_written_date_is_kept_as_written():
    now = shanghai(2020, 2, 4, 0, 20)
    assert parse_visited_at("02-05 09:30", now=now) == shanghai(2020, 2, 5, 9, 30)
    assert parse_visited_at("2020-02-01 09:30", now=now) == shanghai(2020, 2, 1, 9, 30)


@pytest.mark.parametrize("raw", ["", "25:00", "tomorrow", "0960"])
def test_what_is_not_a_time_is_refused_with_a_message(raw):
    with pytest.raises(ValueError, match=r".+"):
        parse_visited_at(raw, now=shanghai(2020, 2, 4, 0, 20))
