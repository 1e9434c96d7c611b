"""Normalisation of what people type into resident lists: full-width forms, stray spaces."""

import unicodedata

# NFKC folds full-width digits, letters and punctuation (０１２ＡＢＣ（）：－) to ASCII and the
# ideographic and no-break spaces to plain ones; these it leaves alone.
_DASHES = {"—": "-", "–": "-"}
_INVISIBLE = ("\u200b", "\ufeff")


def clean_text(value: object) -> str:
    """A cell as text: NFKC-folded, inner runs of white space collapsed, ends trimmed.

    Called for every cell of million-row lists, so the common cases return early.
    """
    if value is None:
        return ""
    if type(value) is not str:
        if isinstance(value, float) and value.is_integer():
            # Spreadsheets hand numbers back as floats: 13800138000.0 is the phone 13800138000.
            value = int(value)
        value = str(value)
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value)
        for dash, plain in _DASHES.items():
            if dash in value:
                value = value.replace(dash, plain)
        for invisible in _INVISIBLE:
            if invisible in value:
                value = value.replace(invisible, "")
    stripped = value.strip()
    if "  " in stripped or "\t" in stripped or "\n" in stripped or "\r" in stripped:
        return " ".join(stripped.split())
    return stripped


def compact_text(value: object) -> str:
    """A cell with every space removed: for codes and numbers typed with gaps."""
    text = clean_text(value)
    return text.replace(" ", "") if " " in text else text
