"""schemathesis against the live schema (/api/v1/openapi.json): every operation, generated
input, a seeded database and an administrator's token. No response may be a 5xx, and every
response must match the schema (status code documented, body of the documented shape).

Bounded so the suite stays fast: a few examples per operation, no deadline."""

from __future__ import annotations

import time
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ispbill.accounts.models import Role
from ispbill.accounts.services import api_token_create
from tests.api.conftest import make_user

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = 5
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
STATS: dict[str, Any] = {"calls": 0, "started": None}


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Any:
    """The WSGI handler closes database connections at the end of each request, which would
    end the test's transaction on PostgreSQL; Django's test client does the same as this."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def admin_token(billed: Any) -> str:
    user = make_user("fuzzer", Role.ADMIN, is_staff=True)
    return api_token_create(user=user, name="fuzz")[1]


@pytest.fixture
def real_ids(billed: Any) -> dict[str, list[int]]:
    """Ids of seeded objects per path parameter: most generated ids would only find 404s."""
    from ispbill.accounts.models import User
    from ispbill.catalog.models import PartnerPrice
    from ispbill.core.models import AuditEvent
    from ispbill.subscriptions.models import OneTimeCharge, Service

    s = billed.seed
    other = make_user("victim", Role.SUPPORT)
    token = api_token_create(user=other, name="victim")[0]
    price = PartnerPrice.objects.create(partner=s.citynet, tariff=s.fiber, price_minor=2500)
    charge = OneTimeCharge.objects.create(
        partner=s.home,
        customer=s.alice,
        description="Installation",
        unit_price_minor=4900,
        tax_rate=s.vat,
        charge_date=billed_date(),
    )
    from ispbill.sepa.mandates import creditor_settings_save, mandate_create

    creditor_settings_save(
        partner=s.home, creditor_id="DE98ZZZ09999999999", creditor_name="Main", iban=s_iban()
    )
    mandate = mandate_create(customer=s.alice, iban=s_iban(), signature_date=billed_date())
    from tests.factories import email_delivery

    emails = [email_delivery(customer=s.alice, status=status).pk for status in ("failed", "sent")]
    return {
        "email_id": emails,
        "mandate_id": [mandate.pk],
        "partner_id": [s.citynet.pk, s.ownnet.pk, s.home.pk],
        "customer_id": [s.alice.pk, s.bob.pk, s.olga.pk],
        "tax_rate_id": [s.vat.pk, s.own_vat.pk],
        "tariff_id": [s.fiber.pk, s.own_tariff.pk],
        "partner_price_id": [price.pk],
        "service_id": list(Service.objects.values_list("pk", flat=True)),
        "one_time_charge_id": [charge.pk],
        "run_id": [billed.run_id],
        "invoice_id": billed.alice_invoices + billed.bob_invoices + billed.olga_invoices,
        "credit_note_id": [billed.credit_note_id],
        "payment_id": [billed.payment_id],
        "statement_id": [billed.statement_id],
        "user_id": [
            other.pk,
            *User.objects.exclude(username="fuzzer").values_list("pk", flat=True)[:3],
        ],
        "token_id": [token.pk],
        "event_id": list(AuditEvent.objects.values_list("pk", flat=True)[:3]),
    }


def s_iban() -> str:
    return "DE89370400440532013000"


def billed_date() -> Any:
    from datetime import date

    return date(2026, 2, 1)


# The live schema, fetched from the application as a client would.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_every_operation_conforms_and_never_fails(
    case: Any, admin_token: str, real_ids: dict[str, list[int]]
) -> None:
    """One test per operation (see the module docstring)."""
    if STATS["started"] is None:
        STATS["started"] = time.monotonic()
    STATS["calls"] += 1
    # Two calls in three name seeded objects, so operations get past their 404.
    if case.path_parameters and STATS["calls"] % 3:
        for name in list(case.path_parameters):
            choices = real_ids.get(name)
            if choices:
                case.path_parameters[name] = choices[STATS["calls"] % len(choices)]
    response = case.call(headers={"Authorization": f"Bearer {admin_token}"})
    case.validate_response(response, checks=CHECKS)
