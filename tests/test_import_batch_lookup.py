"""The import's batch lookups (imports/batchq.py) find exactly the rows Django's IN list finds."""

import pytest

from doorstep.core.db import in_values_q
from doorstep.imports.batchq import batch_in_q
from doorstep.registry.models import Household

from .factories import HouseholdFactory

NUMBERS = ["H001", "0123", "1e3", "户号-7", 'a"b', "a'b", "x\\y", "  s ", "emoji\U0001f600", "12"]


@pytest.mark.parametrize(
    "asked",
    [
        [],
        ["H001"],
        NUMBERS,
        [*NUMBERS, "missing", "123", "1000", "h001", "H001 "],
        ["0123", "0123"],
    ],
)
def test_batch_lookup_finds_what_the_in_list_finds(areas, asked):
    for number in NUMBERS:
        HouseholdFactory(grid=areas["G1"], household_number=number)
    by_in = set(Household.objects.filter(in_values_q("household_number", asked)).values_list("pk"))
    by_batch = set(
        Household.objects.filter(batch_in_q("household_number", asked)).values_list("pk")
    )
    assert by_batch == by_in
    assert len(by_batch) == len(set(asked) & set(NUMBERS))


def test_batch_lookup_takes_any_iterable_of_values(areas):
    HouseholdFactory(grid=areas["G1"], household_number="H9")
    asked = {"H9": 1}  # the importer passes a dict of number -> plan
    found = Household.objects.filter(batch_in_q("household_number", asked))
    assert list(found.values_list("household_number", flat=True)) == ["H9"]
