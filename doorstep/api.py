"""The JSON API (django-ninja, OpenAPI at /api/docs) for field devices and integrations.

Authentication: a bearer token (`Authorization: Bearer dst_…`, see `create_api_token`) or the
browser session (with its CSRF token). Every router scopes through the same selectors as the
pages; out of scope answers 404. The schema (/api/openapi.json) is read with either, so a
device's developer generates a client with their token; operation ids name the thing, then the
verb (`visit_submit`), which is what a generated client calls its functions.
"""

import functools

from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from ninja import NinjaAPI, Schema
from ninja.security import HttpBearer, django_auth

from doorstep.accounts.services import api_token_user


class BearerToken(HttpBearer):
    def authenticate(self, request, token: str):
        user = api_token_user(token, request)
        if user is not None:
            request.user = user
            # The budgets count this request on its token, as the middleware did before the
            # token was known (core/ratelimit.py caller_key).
            request.doorstep_bearer = True
        return user


def docs_access(view):
    """The schema and its docs page: for a logged-in session or a valid bearer token. Without
    either, the JSON schema answers 401 (a client reading it expects JSON), the page sends the
    browser to the login page."""

    @functools.wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            header = request.headers.get("Authorization", "")
            user = None
            if header[:7].lower() == "bearer ":
                user = api_token_user(header[7:].strip())
            if user is None:
                if request.path.endswith(".json"):
                    response = JsonResponse({"detail": "Unauthorized"}, status=401)
                    response["WWW-Authenticate"] = "Bearer"
                    return response
                return redirect_to_login(request.get_full_path())
            request.user = user
        return view(request, *args, **kwargs)

    return guarded


class DoorstepAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation) -> str:
        """Routes name theirs (`operation_id="visit_submit"`); one that does not is called by its
        function's name, without the module path ninja would put in front."""
        return operation.view_func.__name__

    def get_openapi_schema(self, **kwargs):
        schema = super().get_openapi_schema(**kwargs)
        # ninja lists only the answers a view declares; these come from ninja itself, for every
        # operation alike: no or a bad token or session (401), a session writing without its
        # CSRF token (403), a body that is not JSON (400).
        for operations in schema["paths"].values():
            for method, operation in operations.items():
                responses = operation["responses"]
                responses.setdefault(401, _refusal("Unauthorized"))
                # The budgets of core/ratelimit.py: reads, searches, reveals, refused writes.
                responses.setdefault(429, _refusal("Too Many Requests"))
                if method not in ("get", "head", "options"):
                    responses.setdefault(403, _refusal("Forbidden"))
                if "requestBody" in operation:
                    responses.setdefault(400, _refusal("Bad Request"))
        return schema


def _refusal(description: str) -> dict:
    detail = {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    }
    return {"description": description, "content": {"application/json": {"schema": detail}}}


api = DoorstepAPI(
    title="Doorstep API",
    version="1",
    description="门前 — district screening: campaigns, worker lists, visits, coverage.",
    auth=[BearerToken(), django_auth],
    urls_namespace="api",
    # The schema shows no data, but there is no reason to hand the map to strangers.
    docs_decorator=docs_access,
)


class MeOut(Schema):
    username: str
    role: str
    jurisdiction: str | None


@api.get("/me", response=MeOut, tags=["accounts"], operation_id="me_read")
def me(request):
    user = request.user
    area = user.jurisdiction_area
    return {
        "username": user.username,
        "role": user.role,
        "jurisdiction": area.code if area else None,
    }


def _register_routers() -> None:
    from django.conf import settings

    from doorstep.screening.api import router as screening_router

    api.add_router("/campaigns", screening_router)
    from doorstep.followup.api import router as followup_router

    api.add_router("/followup", followup_router)
    from doorstep.followup.api_outbox import router as followup_outbox_router

    api.add_router("/followup", followup_outbox_router)
    from doorstep.checkpoints.api import router as checkpoints_router

    api.add_router("/checkpoints", checkpoints_router)
    if settings.DOORSTEP_BENCH_ENDPOINTS:
        # Only for bench/: the floor a visit submission is measured against (same stack, same
        # authentication, one INSERT). Never enabled in production or tests.
        @api.post("/bench/insert-one", tags=["bench"], include_in_schema=False)
        def bench_insert_one(request):
            from doorstep.core.models import AuditEvent

            event = AuditEvent.objects.create(user=request.user, action="bench.insert")
            return {"id": event.pk}


_register_routers()
