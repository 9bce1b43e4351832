"""The API tests' world (users with tokens, a small catalog) for the DATEV export tests."""

from tests.api.conftest import seed  # noqa: F401
