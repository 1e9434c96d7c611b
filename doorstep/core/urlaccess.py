"""Every URL's access class, in one table. A URL missing here fails the test suite
(tests/test_access.py walks the resolver), so a new route cannot ship unclassified.

- public: reachable without login (and must not show personal data)
- authenticated: any logged-in user; shows only the user's own things
- scoped: shows or changes roster data; goes through the access layer (selectors), 404 outside
  the user's jurisdiction
- staff: Django admin, for superusers/staff only; registers no personal-data models
"""

PUBLIC, AUTHENTICATED, SCOPED, STAFF = "public", "authenticated", "scoped", "staff"

URL_ACCESS: dict[str, str] = {
    "healthz": PUBLIC,
    "set_language": PUBLIC,
    "accounts:login": PUBLIC,
    "home": SCOPED,
    "accounts:logout": AUTHENTICATED,
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
    "imports:job_rejections": SCOPED,
}
NAMESPACE_ACCESS: dict[str, str] = {"admin": STAFF}


def access_class(name: str | None) -> str | None:
    if not name:
        return None
    if name in URL_ACCESS:
        return URL_ACCESS[name]
    return NAMESPACE_ACCESS.get(name.split(":", 1)[0]) if ":" in name else None
