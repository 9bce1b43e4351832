"""Continuing an issuer's numbering from another system (forward only, gapless, audited),
through the API and the settings page."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role
from ispbill.billing.run import billing_run_start
from ispbill.core.models import AuditEvent
from ispbill.invoicing.models import Invoice, NumberSequence
from ispbill.subscriptions.models import Service
from tests.api.conftest import Seed, assert_error, make_user

pytestmark = pytest.mark.django_db


def _next(answer, doc_type: str) -> tuple[int, str]:
    row = next(r for r in answer.body if r["doc_type"] == doc_type)
    return row["next_value"], row["next_number"]


@time_machine.travel(date(2026, 1, 15))
def test_api_sets_the_next_invoice_number_forward_only(seed: Seed):
    answer = seed.admin.get("/sequences")
    assert answer.status == 200
    # Default pattern {year}{partner_id|2}{next|6}: the home partner's first number this year.
    assert _next(answer, "invoice") == (1, f"2026{seed.home.pk:02d}000001")
    answer = seed.admin.post("/sequences/next", {"doc_type": "invoice", "next_value": 4711})
    assert answer.status == 200, answer.body
    assert _next(answer, "invoice") == (4711, f"2026{seed.home.pk:02d}004711")
    event = AuditEvent.objects.get(action="sequence.next_set")
    assert event.changes["next_value"] == {"before": 1, "after": 4711}
    # Backward (or the same number again) is refused with the reason; nothing changes.
    error = assert_error(
        seed.admin.post("/sequences/next", {"doc_type": "invoice", "next_value": 4000}), 422
    )
    assert "only move forward" in error["fields"]["next_value"]
    assert_error(seed.admin.post("/sequences/next", {"doc_type": "invoice", "next_value": 0}), 422)
    assert_error(seed.admin.post("/sequences/next", {"doc_type": "order", "next_value": 9}), 422)
    assert NumberSequence.objects.get(issuer=seed.home, doc_type="invoice").next_value == 4711
    # The next invoice takes it.
    Service.objects.create(
        partner=seed.home, customer=seed.alice, tariff=seed.fiber, start_date=date(2026, 1, 1)
    )
    billing_run_start(run_date=date(2026, 1, 1))
    assert Invoice.objects.get(customer=seed.alice).number == f"2026{seed.home.pk:02d}004711"


@time_machine.travel(date(2026, 1, 15))
def test_a_partner_sets_only_its_own_series(seed: Seed):
    answer = seed.ownnet_admin.post(
        "/sequences/next", {"doc_type": "credit_note", "next_value": 90}
    )
    assert answer.status == 200, answer.body
    assert NumberSequence.objects.get(issuer=seed.ownnet, doc_type="credit_note").next_value == 90
    # Another issuer's series: unknown to it; a percentage partner has no numbering at all.
    assert_error(
        seed.ownnet_admin.post(
            "/sequences/next",
            {"doc_type": "invoice", "next_value": 90, "partner_id": seed.home.pk},
        ),
        422,
    )
    assert_error(seed.citynet_admin.get("/sequences"), 403)
    assert_error(
        seed.admin.post(
            "/sequences/next",
            {"doc_type": "invoice", "next_value": 5, "partner_id": seed.citynet.pk},
        ),
        422,
    )
    assert not NumberSequence.objects.filter(issuer=seed.home).exists()


@time_machine.travel(date(2026, 1, 15))
def test_web_settings_page_sets_the_next_number(seed: Seed):
    client = Client()
    client.force_login(make_user("own-web", Role.PARTNER_ADMIN, partner=seed.ownnet))
    page = client.get(reverse("web:settings")).content.decode()
    assert "Next numbers" in page and f"2026{seed.ownnet.pk:02d}000001" in page
    url = reverse("web:sequence_next")
    response = client.post(url, {"doc_type": "invoice", "next_value": "120"})
    assert response.status_code == 302
    assert NumberSequence.objects.get(issuer=seed.ownnet, doc_type="invoice").next_value == 120
    response = client.post(url, {"doc_type": "invoice", "next_value": "7"}, follow=True)
    assert "only move forward" in response.content.decode()
    assert NumberSequence.objects.get(issuer=seed.ownnet, doc_type="invoice").next_value == 120
    # Partner staff may not manage numbering.
    staff = Client()
    staff.force_login(make_user("own-staff2", Role.PARTNER_STAFF, partner=seed.ownnet))
    assert staff.post(url, {"doc_type": "invoice", "next_value": "500"}).status_code == 403
