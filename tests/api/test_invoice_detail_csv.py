"""GET /api/v1/invoices/{id}/detail.csv: the line detail of an aggregated or wholesale
invoice, scoped as the PDF download is (docs/api.md; docs/documents.md, "Summary of a large
aggregated invoice")."""

from __future__ import annotations

from typing import Any

import pytest

from ispbill.accounts.models import Role
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import Partner
from tests.api.conftest import Seed, api_for, assert_error, make_user
from tests.invoicing.test_aggregated_detail import CSV, wisp_invoice
from tests.invoicing.test_wholesale_detail import WHOLESALE_CSV, wholesale_invoice

pytestmark = pytest.mark.django_db


def test_the_line_detail_for_operator_and_the_partner_only(
    seed: Seed, settings: Any, tmp_path: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    inv = wisp_invoice(seed.home, django_capture_on_commit_callbacks)
    wisp = Partner.objects.get(account_id=inv.customer_id)
    wisp_admin = api_for(make_user("wispy", Role.PARTNER_ADMIN, partner=wisp))
    path = f"/invoices/{inv.pk}/detail.csv"
    for api in (seed.admin, seed.accountant, wisp_admin):
        answer = api.get(path)
        assert answer.status == 200, answer.body
        assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert answer.headers["Content-Disposition"] == (
            f'attachment; filename="{inv.number}-detail.csv"'
        )
        assert answer.raw.decode("utf-8") == CSV
        # The PDF is served to the same callers.
        assert api.get(f"/invoices/{inv.pk}/pdf").status == 200
    # Another partner's staff: 404, as for the PDF.
    for other in (seed.citynet_admin, seed.ownnet_admin):
        assert_error(other.get(path), 404)
        assert_error(other.get(f"/invoices/{inv.pk}/pdf"), 404)
    assert_error(seed.admin.get("/invoices/999999/detail.csv"), 404)


def test_an_invoice_that_is_not_aggregated_has_no_detail(
    seed: Seed, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import date

    from ispbill.billing.run import billing_run_start
    from ispbill.subscriptions.models import Service

    Service.objects.create(
        partner=seed.home, customer=seed.alice, tariff=seed.fiber, start_date=date(2026, 1, 1)
    )
    billing_run_start(run_date=date(2026, 1, 1))
    inv = Invoice.objects.get(customer=seed.alice)
    assert_error(seed.admin.get(f"/invoices/{inv.pk}/detail.csv"), 404, "not_found")


def test_the_operation_is_documented(seed: Seed) -> None:
    schema = seed.admin.get("/api/v1/openapi.json").body
    operation = schema["paths"]["/api/v1/invoices/{invoice_id}/detail.csv"]["get"]
    assert "text/csv" in operation["responses"]["200"]["content"]
    assert "404" in operation["responses"]


def test_the_wholesale_line_detail_for_operator_and_the_partner_billed_only(
    seed: Seed, settings: Any, tmp_path: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A wholesale invoice's line detail: the own-invoicing partner billed reads it as the
    invoice's recipient (its account), other partners get 404."""
    settings.MEDIA_ROOT = tmp_path
    inv = wholesale_invoice(seed.home, django_capture_on_commit_callbacks)
    partner = Partner.objects.get(account_id=inv.customer_id)
    partner_admin = api_for(make_user("berg", Role.PARTNER_ADMIN, partner=partner))
    path = f"/invoices/{inv.pk}/detail.csv"
    for api in (seed.admin, seed.accountant, partner_admin):
        answer = api.get(path)
        assert answer.status == 200, answer.body
        assert answer.raw.decode("utf-8") == WHOLESALE_CSV
        # Its sections, as the PDF prints them.
        read = api.get(f"/invoices/{inv.pk}")
        assert read.status == 200, read.body
        assert [(s["title"], s["subtotal"]["amount"]) for s in read.body["sections"]] == [
            ("A1 Anna Alt", "25.47"),
            ("B1 Bert GmbH", "29.71"),
        ]
    for other in (seed.citynet_admin, seed.ownnet_admin):
        assert_error(other.get(path), 404)
        assert_error(other.get(f"/invoices/{inv.pk}"), 404)
