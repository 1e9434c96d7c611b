"""The brief's reads run on PostgreSQL without JIT compilation (compiling its aggregates took
longer than running them), in a transaction of their own; elsewhere they run as they are."""

import pytest
from django.db import connection

from doorstep.command.brief import brief_reads


def _jit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)  # no outer transaction: SET LOCAL ends with ours
def test_the_brief_reads_without_jit_on_postgresql():
    if connection.vendor != "postgresql":
        with brief_reads():
            pass  # nothing to switch: a no-op
        return
    before = _jit()
    with brief_reads():
        assert _jit() == "off"
        assert connection.in_atomic_block
    assert _jit() == before
