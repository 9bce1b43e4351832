"""Oversize and malformed request bodies answer the documented JSON error, not Django's
plain 400 page."""

from __future__ import annotations

import pytest

from ispbill.payments.models import Payment
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db


def test_an_oversize_body_is_a_json_413(seed):
    body = '{"customer_id": 1, "note": "' + "x" * (10 * 1024 * 1024) + '"}'
    response = seed.accountant.client.post(
        "/api/v1/payments", body, content_type="application/json"
    )
    assert response.status_code == 413
    error = response.json()
    assert set(error) == {"detail", "code", "fields"}
    assert error["code"] == "payload_too_large" and "bytes" in error["detail"]
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ("\xff\xfe", "application/json"),
        ("customer_id=1", "application/x-www-form-urlencoded"),
        ("[1, 2", "application/json"),
    ],
)
def test_a_malformed_body_is_a_json_400(seed, body, content_type):
    answer_body = seed.accountant.client.post("/api/v1/payments", body, content_type=content_type)
    assert answer_body.status_code == 400
    assert answer_body.json()["code"] == "bad_request"
    assert not Payment.objects.exists()


def test_a_json_body_of_the_wrong_shape_is_a_422(seed):
    assert_error(seed.accountant.post("/payments", [1, 2, 3]), 422)
