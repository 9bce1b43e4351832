"""Shared by the web tests: the demo data and a signed-in test client."""

from __future__ import annotations

import pytest
from django.test import Client

from ispbill.demo import DEMO_PASSWORD, demo_load


@pytest.fixture
def demo() -> None:
    demo_load()


def signed_in(username: str) -> Client:
    """A test client signed in as one of the demo users."""
    client = Client()
    assert client.login(username=username, password=DEMO_PASSWORD)
    return client
