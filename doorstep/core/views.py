from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import Count
from django.http import JsonResponse

from doorstep.registry.selectors import roster_totals_visible_to

from .cache import UNREACHABLE
from .middleware import public_view
from .routers import replica_configured, replica_state


@public_view
def healthz(request):
    """For the load balancer: 200 when the database and Redis answer, else 503 naming which did
    not. The read replica is reported but does not fail the check (reads fall back to the
    primary). Public, so it says no more than ok / failed and the kind of error."""
    checks = {"database": _database_check(), "redis": _redis_check()}
    healthy = all(value in ("ok", "not configured") for value in checks.values())
    if replica_configured():
        state = replica_state(fresh=True)
        checks["replica"] = "ok" if state.usable else f"not used: {state.reason}"
    return JsonResponse(
        {"status": "ok" if healthy else "failing", "checks": checks},
        status=200 if healthy else 503,
        headers={"Cache-Control": "no-store"},
    )


def _database_check() -> str:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        return f"failed ({type(error).__name__})"
    return "ok"


def _redis_check() -> str:
    ping = getattr(cache, "ping", None)
    if ping is None:
        return "not configured"  # the embedded default: a per-process memory cache
    try:
        ping()
    except UNREACHABLE as error:
        return f"failed ({type(error).__name__})"
    return "ok"


def home_context(user) -> dict:
    """The jurisdiction's households, persons and areas below: the top of every dashboard (the
    first page after login is the command app's role dashboard, which starts with this)."""
    area = user.jurisdiction_area
    context = {"area": area, "household_count": 0, "person_count": 0, "children": []}
    if area is not None:
        # stored per grid by every writer of the roster: no COUNT over the roster per page view
        context["household_count"], context["person_count"] = roster_totals_visible_to(user)
        # plain rows (name, code, sub-areas) for the table: no Area object per row. Grouped by
        # the id too: grouped by (code, name) alone SQLite walked the whole area table in code
        # order and built an index on the children per view (6 ms at 10,000 areas)
        context["children"] = (
            area.children.order_by("code")
            .values("pk", "code", "name")
            .annotate(grid_count=Count("children"))[:50]
        )
    return context
