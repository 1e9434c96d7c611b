"""Searches whose text never travels in a URL.

A search box is sent by POST; the text is kept in the user's server-side session under a short
random token, and the result page's URL (what a browser history, an access log or a proxy log
records) carries only that token: `?s=Xy3…`. The token means nothing outside the session that
made it, so a copied link shows another user nothing. The last SEARCHES_KEPT searches are kept.
"""

import secrets

from django.http import HttpRequest

SESSION_KEY = "doorstep_searches"
SEARCHES_KEPT = 20
MAX_TEXT = 50


def search_token(request: HttpRequest, text: str) -> str:
    """The token of this search text in this session (the same text keeps its token)."""
    searches: dict[str, str] = dict(request.session.get(SESSION_KEY, {}))
    text = text[:MAX_TEXT]
    for token, stored in searches.items():
        if stored == text:
            return token
    token = secrets.token_urlsafe(6)
    searches[token] = text
    request.session[SESSION_KEY] = dict(list(searches.items())[-SEARCHES_KEPT:])
    return token


def search_text(request: HttpRequest, token: str) -> str | None:
    """The text a token stands for in this session; None when unknown (another session's, or
    one that has been dropped)."""
    if not token:
        return ""
    return request.session.get(SESSION_KEY, {}).get(token[:16])
