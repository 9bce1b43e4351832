"""Invariant checks behind ``ispbill check``. Each check returns the breaches it finds.

The registry knows no app: each app registers its checks with ``@invariant`` in its own
``checks`` module, which its AppConfig.ready imports (docs/development.md, "Layers")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ispbill.core.tenancy import system_scope


@dataclass(frozen=True)
class Breach:
    check: str
    message: str
    ids: tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        ids = f" [{', '.join(self.ids)}]" if self.ids else ""
        return f"{self.check}: {self.message}{ids}"


CheckFn = Callable[[], list[Breach]]
_REGISTRY: dict[str, CheckFn] = {}


def invariant(name: str) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        _REGISTRY[name] = fn
        return fn

    return register


def invariants_check() -> tuple[list[str], list[Breach]]:
    """Run every registered check; return the names run and the breaches found."""
    breaches: list[Breach] = []
    with system_scope():
        for fn in _REGISTRY.values():
            breaches.extend(fn())
    return list(_REGISTRY), breaches
