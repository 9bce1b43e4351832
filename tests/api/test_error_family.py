"""One error family, mapped once (docs/development.md, "Errors"): any refusal of the domain
answers 422 with its own code, message and fields; a plain ValueError is a bug and answers
500, never a 422 that would hide it."""

from __future__ import annotations

import pytest

from ispbill.api import customers as customers_api
from ispbill.core.errors import DomainError
from ispbill.core.money import AmountRangeError
from ispbill.payments.services import PaymentError
from tests.api.conftest import Seed

pytestmark = pytest.mark.django_db


def test_every_error_of_the_family_derives_from_domain_error():
    assert issubclass(PaymentError, DomainError) and issubclass(AmountRangeError, DomainError)
    assert (PaymentError.code, AmountRangeError.code) == ("payment", "out_of_range")


def test_a_refusal_answers_422_with_its_code_message_and_fields(seed: Seed, monkeypatch):
    message = "Only 5.00 EUR of this payment is unallocated credit and can be refunded."

    def refuse(*args, **kwargs):
        raise PaymentError(message, fields={"amount": message})

    monkeypatch.setattr(customers_api, "page", refuse)
    answer = seed.admin.get("/customers")
    assert answer.status == 422
    assert answer.body == {"detail": message, "code": "payment", "fields": {"amount": message}}


def test_a_plain_value_error_is_a_bug_and_answers_500(seed: Seed, monkeypatch):
    def bug(*args, **kwargs):
        return int("not a number")  # a ValueError nobody meant for the user

    monkeypatch.setattr(customers_api, "page", bug)
    seed.admin.client.raise_request_exception = False
    answer = seed.admin.get("/customers")
    assert answer.status == 500
