"""Every URL's access class: in this table, or on the view itself with `@access(...)`. A URL with
neither fails the test suite (tests/test_access.py walks the resolver), so a new route cannot
ship unclassified.

- public: reachable without login (and must not show personal data)
- authenticated: any logged-in user; shows only the user's own things
- scoped: shows or changes roster data; goes through the access layer (selectors), 404 outside
  the user's jurisdiction
- staff: Django admin, for superusers/staff only; registers no personal-data models
"""

from collections.abc import Callable
from typing import Any, TypeVar

_View = TypeVar("_View", bound=Callable[..., Any])

PUBLIC, AUTHENTICATED, SCOPED, STAFF = "public", "authenticated", "scoped", "staff"

URL_ACCESS: dict[str, str] = {
    "healthz": PUBLIC,
    "set_language": PUBLIC,
    "accounts:login": PUBLIC,
    "home": SCOPED,
    "accounts:logout": AUTHENTICATED,
    "accounts:two_factor_verify": AUTHENTICATED,
    "accounts:two_factor_enrol": AUTHENTICATED,
    "accounts:password_change": AUTHENTICATED,
    "accounts:password_change_done": AUTHENTICATED,
    "accounts:users_import": SCOPED,
    "registry:household_list": SCOPED,
    "registry:household_detail": SCOPED,
    "registry:household_edit": SCOPED,
    "registry:person_create": SCOPED,
    "registry:person_edit": SCOPED,
    "registry:person_reveal": SCOPED,
    "imports:list": SCOPED,
    "imports:roster_upload": SCOPED,
    "imports:job": SCOPED,
    "imports:job_start": SCOPED,
    "imports:job_progress": SCOPED,
    "imports:job_resume": SCOPED,
    "imports:job_rejections": SCOPED,
    # checkpoints (the views carry @access(SCOPED) too)
    "checkpoints:home": SCOPED,
    "checkpoints:entry": SCOPED,
    "checkpoints:arrivals": SCOPED,
    "checkpoints:arrival": SCOPED,
    "checkpoints:inbox": SCOPED,
    "checkpoints:handoff": SCOPED,
    "checkpoints:unmatched": SCOPED,
    "checkpoints:handed_out_export": SCOPED,
}
# The API authenticates every operation itself (bearer token or session) and scopes through the
# same selectors as the pages; its docs page and schema show no data.
NAMESPACE_ACCESS: dict[str, str] = {"admin": STAFF, "api": SCOPED}


def access(kind: str) -> Callable[[_View], _View]:
    """Classify a view where it is defined: `@access(SCOPED)`. Equivalent to a table entry."""
    if kind not in (PUBLIC, AUTHENTICATED, SCOPED, STAFF):
        raise ValueError(kind)

    def mark(view: _View) -> _View:
        view.doorstep_access = kind  # type: ignore[attr-defined]
        if kind == PUBLIC:
            view.doorstep_public = True  # type: ignore[attr-defined]  # the middleware lets it through
        return view

    return mark


def access_class(name: str | None, callback=None) -> str | None:
    if callback is not None and getattr(callback, "doorstep_access", None):
        return callback.doorstep_access
    if not name:
        return None
    if name in URL_ACCESS:
        return URL_ACCESS[name]
    return NAMESPACE_ACCESS.get(name.split(":", 1)[0]) if ":" in name else None
