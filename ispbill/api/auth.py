"""API authentication: bearer tokens (``Authorization: Bearer ispb_...``) and sessions.

``ispbill.accounts.middleware.TenantScopeMiddleware`` resolves the token before the view
runs (``bearer_token_user``)
and opens the token user's scope around the whole request, so the handler already runs in
it; ``ApiTokenAuth`` then only tells django-ninja whether the request is authenticated.
A token acts with its user's role and scope; revoked, expired or unknown tokens -> 401."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

__all__ = ["API_AUTH", "ApiTokenAuth"]


class ApiTokenAuth(HttpBearer):
    """django-ninja authentication by API token (resolved by the middleware)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_token = getattr(request, "api_token", None)
        if api_token is None or not getattr(request.user, "is_authenticated", False):
            return None
        return api_token


class ApiSessionAuth(SessionAuth):
    """The signed-in browser session (CSRF checked), ignored when a bearer token is sent."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if request.headers.get("Authorization"):
            return None
        return super().authenticate(request, key)


# The authentication of every API operation: a token, or the browser's session.
API_AUTH = [ApiTokenAuth(), ApiSessionAuth()]
