"""POST /one-time-charges with invoice_now: an invoice of its own at once."""

from __future__ import annotations

from ispbill.invoicing.models import Invoice
from tests.api.conftest import Seed, assert_error


def _body(seed: Seed, **kw: object) -> dict[str, object]:
    return {
        "customer_id": seed.alice.pk,
        "description": "Router",
        "unit_price": "89.00",
        "tax_rate_id": seed.vat.pk,
        "charge_date": "2026-03-10",
        **kw,
    }


def test_invoice_now_issues_an_invoice(seed: Seed) -> None:
    answer = seed.admin.post("/one-time-charges", _body(seed, invoice_now=True))
    assert answer.status == 201, answer.body
    assert answer.body["invoiced"] is True
    inv = Invoice.objects.get(customer=seed.alice)
    # 89.00 + 19 % (16.91) = 105.91, an invoice of its own
    assert (inv.kind, inv.net_minor, inv.tax_minor, inv.total_minor) == (
        "one_off",
        8900,
        1691,
        10591,
    )


def test_invoice_now_needs_the_right_to_issue_invoices(seed: Seed) -> None:
    assert_error(seed.support.post("/one-time-charges", _body(seed, invoice_now=True)), 403)
    assert not Invoice.objects.exists()
