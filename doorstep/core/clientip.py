"""The real client address, the same for the audit trail, the lockout (django-axes calls this
through AXES_CLIENT_IP_CALLABLE) and every budget keyed on an address (self-report).

Without a proxy (DOORSTEP_PROXY_COUNT = 0) the client is the peer of the connection and
X-Forwarded-For is ignored: anyone can write that header. Behind N reverse proxies that each add
the address they received the request from (nginx: `proxy_add_x_forwarded_for`), the client is
the N-th address from the right of "X-Forwarded-For, peer": whatever a client wrote into the
header itself sits further left and is never read. django-ipware (python-ipware) does the
parsing and validation; the peer is appended because each proxy writes the address *it* saw, so
the last hop is only in REMOTE_ADDR.
"""

from types import SimpleNamespace

from django.conf import settings
from django.http import HttpRequest
from ipware.ip import get_client_ip

_HEADER = "HTTP_X_FORWARDED_FOR"


def client_ip_address(request: HttpRequest) -> str | None:
    peer = request.META.get("REMOTE_ADDR") or None
    proxies = getattr(settings, "DOORSTEP_PROXY_COUNT", 0)
    if not proxies or peer is None:
        return peer
    forwarded = request.META.get(_HEADER, "").strip()
    chain = f"{forwarded}, {peer}" if forwarded else peer
    address, _routable = get_client_ip(
        SimpleNamespace(META={_HEADER: chain}),
        proxy_count=proxies,
        request_header_order=(_HEADER,),
        # A chain longer than the proxies (a client that wrote the header itself) is fine: the
        # count fixes the client's place from the right. Shorter (the app reached without its
        # proxies): no address from the chain, the peer it is.
        strict=False,
    )
    return address or peer
