"""Header rows as people write them: "身份证号码（必填）*", "姓 名", "Username"."""

import re
from collections.abc import Sequence

from doorstep.core.text import clean_text

# Spaces, asterisks (required markers), colons and bracketed notes say nothing about the column.
_NOISE = re.compile(r"[\s*＊:：]|[(（\[【].*?[)）\]】]")


def normalize_header(cell: object) -> str:
    return _NOISE.sub("", clean_text(cell)).lower()


def header_columns(
    rows: Sequence[Sequence], variants: dict[str, tuple[str, ...]], required: set[str]
) -> tuple[int, dict[str, int]] | None:
    """The first of `rows` (the first ten at most) whose cells name every `required` column:
    (its index, column name → cell index, the first cell naming each column); None if none."""
    for index, row in enumerate(rows[:10]):
        columns: dict[str, int] = {}
        for position, cell in enumerate(row):
            header = normalize_header(cell)
            for name, names in variants.items():
                if header in names and name not in columns:
                    columns[name] = position
        if required <= set(columns):
            return index, columns
    return None
