"""Every URL pattern and API operation of the project, found from the URL resolver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

# Routes anyone may call: signing in and out, password reset, health, the API's docs.
PUBLIC_ROUTES = frozenset(
    {
        "login",
        "logout",
        "password_reset",
        "password_reset_done",
        "password_reset_confirm",
        "password_reset_complete",
        "health",
        # A pay link's signed token is its credential; Stripe signs its webhooks.
        "web:pay",
        "web:pay_done",
        "web:pay_receipt",
        "web:stripe_webhook",
        "api:openapi-json",
        "api:openapi-view",
        "api:api-root",  # django-ninja's root: 404 for everyone
    }
)

WEB_METHODS = ("GET", "POST")


@dataclass(frozen=True)
class Route:
    name: str
    pattern: str
    kwargs: tuple[str, ...]
    methods: tuple[str, ...]
    capabilities: tuple[str, ...]  # declared by @require_capability, per operation
    is_api: bool

    def __str__(self) -> str:
        return self.name


def _ninja_path_view(callback: Any) -> Any:
    from ninja.operation import PathView

    for cell in getattr(callback, "__closure__", None) or ():
        contents = cell.cell_contents
        if isinstance(contents, PathView):
            return contents
    return None


def _kwarg_names(pattern: Any) -> list[str]:
    converters = getattr(pattern, "converters", None)
    if converters:
        return list(converters)
    regex = getattr(pattern, "regex", None)
    return list(regex.groupindex) if regex is not None else []


def _walk(
    patterns: list[Any], prefix: str, namespace: str, kwargs: list[str]
) -> list[tuple[str, str, list[str], Any]]:
    found = []
    for entry in patterns:
        here = kwargs + _kwarg_names(entry.pattern)
        text = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = entry.namespace
            inner = f"{namespace}{ns}:" if ns else namespace
            found += _walk(entry.url_patterns, text, inner, here)
        elif isinstance(entry, URLPattern):
            found.append((text, f"{namespace}{entry.name}" if entry.name else "", here, entry))
    return found


def all_routes() -> list[Route]:
    routes = []
    for text, name, kwargs, entry in _walk(get_resolver().url_patterns, "/", "", []):
        if not name:
            raise AssertionError(f"the route {text!r} has no name; every route needs one")
        path_view = _ninja_path_view(entry.callback)
        if path_view is not None:
            # One route per API operation: GET and POST of one path may need different
            # capabilities (customers.read, customers.write).
            for op in path_view.operations:
                cap = getattr(op.view_func, "required_capability", None)
                caps = (cap,) if cap else ()
                routes.append(Route(name, text, tuple(kwargs), tuple(op.methods), caps, True))
        else:
            view = getattr(entry.callback, "view_class", None) or entry.callback
            cap = getattr(entry.callback, "required_capability", None) or getattr(
                view, "required_capability", None
            )
            routes.append(
                Route(name, text, tuple(kwargs), WEB_METHODS, (cap,) if cap else (), False)
            )
    return routes


def protected_routes() -> list[Route]:
    return [r for r in all_routes() if r.name not in PUBLIC_ROUTES]
