"""Normalisation of what people type into resident lists: full-width forms, stray spaces."""

import re
import unicodedata

_SPACES = re.compile(r"[\s\u3000\u00a0\u200b\ufeff]+")
# NFKC folds full-width digits and letters (０１２ＡＢＣ) to ASCII; the table keeps the common
# Chinese punctuation that NFKC leaves alone from breaking the simpler parsers below.
_PUNCT = str.maketrans({"－": "-", "—": "-", "–": "-", "（": "(", "）": ")", "：": ":"})


def clean_text(value: object) -> str:
    """A cell as text: NFKC-folded, inner runs of white space collapsed, ends trimmed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        # Spreadsheets hand numbers back as floats: 13800138000.0 is the phone 13800138000.
        value = int(value)
    text = str(value)
    if text.isascii():
        return " ".join(text.split())
    text = unicodedata.normalize("NFKC", text).translate(_PUNCT)
    return _SPACES.sub(" ", text).strip()


def compact_text(value: object) -> str:
    """A cell with every space removed: for codes and numbers typed with gaps."""
    return _SPACES.sub("", clean_text(value)).replace(" ", "")
