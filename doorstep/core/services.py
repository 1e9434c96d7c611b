from typing import Any

from django.http import HttpRequest

from .clientip import client_ip_address
from .models import AuditEvent


def client_ip(request: HttpRequest | None) -> str | None:
    """The real client address (behind the configured proxies), for the audit trail."""
    if request is None:
        return None
    return client_ip_address(request)


def audit_write(
    *,
    user,
    action: str,
    obj: Any = None,
    object_type: str = "",
    object_id: str | int = "",
    request: HttpRequest | None = None,
    purpose: str = "",
    detail: dict | None = None,
) -> AuditEvent:
    """Record one audited action. `detail` must carry masked values only."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    return AuditEvent.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        ip_address=client_ip(request),
        purpose=purpose[:200],
        detail=detail or {},
    )
