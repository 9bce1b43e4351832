"""Fixtures of the SEPA tests: the API tests' seed (users with tokens, a small catalog)."""

from tests.api.conftest import seed  # noqa: F401
