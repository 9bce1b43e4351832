"""The request's tenant scope: who is asking (session or API bearer token) and what they may
see, opened around the view by ``TenantScopeMiddleware`` through ``core.tenancy``.

It lives here, not in the core: the core opens scopes, accounts know users, roles and
tokens (docs/development.md, "Layers")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponseBase

from ispbill.accounts.permissions import Access, access_for_request, access_for_user
from ispbill.accounts.services import api_token_authenticate
from ispbill.core.tenancy import access_scope

__all__ = ["TenantScopeMiddleware", "bearer_token_user", "request_scope"]


def _bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def bearer_token_user(request: HttpRequest) -> Any:
    """The user of the request's bearer token, else an anonymous user. Keeps the token on
    ``request.api_token`` for the API's ``ApiTokenAuth``."""
    plaintext = _bearer(request)
    token = api_token_authenticate(plaintext) if plaintext else None
    request.api_token = token  # type: ignore[attr-defined]
    return token.user if token is not None else AnonymousUser()


@contextmanager
def request_scope(user: Any) -> Iterator[None]:
    """The scope of a signed-in user (anonymous: a scope that matches nothing)."""
    with access_scope(access_for_user(user)):
        yield


class TenantScopeMiddleware:
    """Opens the request's scope around the view: a session user's, or for ``/api/``
    requests with a bearer token, the token user's. Stores ``request.access``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        access: Access
        if request.path.startswith("/api/") and request.headers.get("Authorization"):
            # A bearer token replaces the session (and any "view as" in it); an invalid
            # token leaves the request anonymous, and the API answers 401.
            token_user = bearer_token_user(request)
            request.user = token_user
            access = access_for_user(token_user)
        else:
            access = access_for_request(request)
        request.access = access  # type: ignore[attr-defined]
        with access_scope(access):
            return self.get_response(request)
