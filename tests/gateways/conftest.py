from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from tests.api.conftest import seed  # noqa: F401
from tests.gateways.fake_stripe import FakeStripe


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe().start()
    before = stripe.api_base
    stripe.api_base = fake.url
    stripe.max_network_retries = 0
    try:
        yield fake
    finally:
        stripe.api_base = before
        fake.stop()
