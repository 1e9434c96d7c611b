"""Masking of personal identifiers for lists, exports and history."""


def mask_id_number(value: str | None) -> str:
    """500109199001011234 → 500109********1234 (region kept, birth date hidden)."""
    if not value:
        return ""
    if len(value) <= 8:
        return value[:1] + "*" * (len(value) - 1)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str | None) -> str:
    """13800138000 → 138****8000."""
    if not value:
        return ""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def is_masked(value: str | None) -> bool:
    """A value sent back from a masked form field: it must never overwrite the stored one."""
    return bool(value) and "*" in value
