"""``ispbill check``'s document and payment invariants find each kind of breach by id: each
is one statement that returns only the rows that differ (docs/operations.md, "Checks")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F

from ispbill.billing.run import billing_run_start
from ispbill.core.invariants import invariants_check
from ispbill.core.money import Money
from ispbill.invoicing.models import CreditNote, Invoice, InvoiceLine, InvoiceTax
from ispbill.ledger.models import JournalEntry
from ispbill.payments.credit_notes import credit_note_issue
from ispbill.payments.models import Payment
from ispbill.payments.services import payment_record
from tests.billing.builders import customer, service, tariff

pytestmark = pytest.mark.django_db


@pytest.fixture
def documents(home):  # type: ignore[no-untyped-def]
    """Two invoices, a payment allocated to the first, a credit note of the second."""
    first, second = customer(), customer()
    plan = tariff(home, price=1000)
    service(first, plan, date(2026, 4, 1))
    service(second, plan, date(2026, 4, 1))
    billing_run_start(run_date=date(2026, 4, 1))
    paid = payment_record(
        customer=first, amount=Money(Decimal("11.90"), "EUR"), on=date(2026, 4, 2)
    )
    credited = credit_note_issue(
        invoice=Invoice.objects.get(customer=second), on=date(2026, 4, 2), reason="x"
    )
    assert invariants_check()[1] == []
    return Invoice.objects.get(customer=first), Invoice.objects.get(customer=second), paid, credited


def _sql(statement: str, params: list[object]) -> None:
    with connection.cursor() as cur:
        cur.execute(statement, params)


def _breaches(check: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(b.message, b.ids) for b in invariants_check()[1] if b.check == check]


BREAKS: dict[str, tuple[str, Callable[..., None], str, str]] = {
    "allocated": (
        "documents.open_amounts",
        lambda inv, cr, pay, cn: _sql(
            "UPDATE invoicing_invoice SET allocated_minor = allocated_minor - 1 WHERE id = %s",
            [inv.pk],
        ),
        "allocated amount differs from its allocations",
        "invoice:{inv}",
    ),
    "credited": (
        "documents.open_amounts",
        lambda inv, cr, pay, cn: _sql(
            "UPDATE invoicing_invoice SET credited_minor = 0 WHERE id = %s", [cr.pk]
        ),
        "credited amount differs from its credit notes",
        "invoice:{cr}",
    ),
    "invoice line": (
        "documents.open_amounts",
        lambda inv, cr, pay, cn: InvoiceLine.objects.filter(invoice=inv).update(amount_minor=999),
        "invoice totals differ from their lines and tax groups",
        "invoice:{inv}",
    ),
    "invoice group": (
        "documents.open_amounts",
        lambda inv, cr, pay, cn: InvoiceTax.objects.filter(invoice=cr).update(tax_minor=1),
        "invoice totals differ from their lines and tax groups",
        "invoice:{cr}",
    ),
    "credit note header": (
        "documents.open_amounts",
        lambda inv, cr, pay, cn: _sql(
            "UPDATE invoicing_creditnote SET net_minor = net_minor + 1 WHERE id = %s", [cn.pk]
        ),
        "credit note totals differ from their lines and tax groups",
        "credit_note:{cn}",
    ),
    "payment": (
        "payments.usage",
        lambda inv, cr, pay, cn: Payment.objects.filter(pk=pay.pk).update(
            allocated_minor=F("allocated_minor") - 1
        ),
        "payment allocated/refunded amounts differ from their rows",
        "payment:{pay}",
    ),
    "posted twice": (
        "documents.posted",
        lambda inv, cr, pay, cn: JournalEntry.objects.create(
            partner_id=inv.issuer_id,
            date=inv.issue_date,
            kind="invoice",
            description="again",
            source_type="invoice",
            source_id=inv.pk,
        ),
        "invoice without exactly one journal entry",
        "invoice:{inv}",
    ),
}


@pytest.mark.parametrize("kind", sorted(BREAKS))
def test_each_breach_is_found_by_id(documents, kind):  # type: ignore[no-untyped-def]
    inv, cr, pay, cn = documents
    check, breaks, message, ref = BREAKS[kind]
    breaks(inv, cr, pay, cn)
    expected = ref.format(inv=inv.pk, cr=cr.pk, pay=pay.pk, cn=cn.pk)
    assert (message, (expected,)) in _breaches(check)
    assert CreditNote.objects.count() == 1
