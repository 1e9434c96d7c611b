"""The short household code printed on a paper form (e.g. "3K7Q"): typed in the evening
instead of the 18-digit household number.

It is the household's progress row in the campaign written in base 31 (Crockford's alphabet
without Z) with a check character modulo the prime 31, so it is unique in the campaign (in fact
everywhere), needs no table of its own and is never reused; a mistyped character is caught by
the check instead of opening another
household. Crockford's alphabet has no I, L, O or U; typed I/L read as 1, O as 0.
"""

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXY"
BASE = len(ALPHABET)  # 31, prime: every single wrong character changes the check
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_VALUE.update({"I": 1, "L": 1, "O": 0})
MIN_BODY = 3  # codes are at least 4 characters: they look alike on every form


def _check(body: str) -> str:
    total = sum((i + 1) * _VALUE[c] for i, c in enumerate(reversed(body)))
    return ALPHABET[total % BASE]


def short_code(progress_id: int) -> str:
    if progress_id < 0:
        raise ValueError("progress ids are positive")
    digits = []
    n = progress_id
    while n:
        n, rest = divmod(n, BASE)
        digits.append(ALPHABET[rest])
    body = "".join(reversed(digits)).rjust(MIN_BODY, "0")
    return body + _check(body)


def parse_short_code(text: str) -> int | None:
    """The progress id a typed code stands for, or None when it is not a valid code."""
    code = (text or "").strip().upper().replace("-", "").replace(" ", "")
    if not (MIN_BODY + 1 <= len(code) <= 9) or any(c not in _VALUE for c in code):
        return None
    body, check = code[:-1], code[-1]
    normal = "".join(ALPHABET[_VALUE[c]] for c in body)
    if _check(normal) != ALPHABET[_VALUE[check]]:
        return None
    value = 0
    for c in normal:
        value = value * BASE + _VALUE[c]
    return value
