"""Invoice entries: the set-based way (one statement on PostgreSQL) and ``invoice_entry`` one
by one write the same ledger rows."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection, transaction

from ispbill.ledger.models import JournalEntry, Posting
from ispbill.ledger.posting import invoice_entries, invoice_entries_post, ledger_post_many
from tests.billing.builders import customer

pytestmark = pytest.mark.django_db


def _invoices(home: Any) -> list[SimpleNamespace]:
    a, b = customer(), customer()
    figures = [(a, 3000, 570), (b, 1000, 0), (a, 0, 0), (b, 2521, 479)]
    return [
        SimpleNamespace(
            pk=9_000 + i,
            issuer_id=home.pk,
            customer_id=c.pk,
            number=f"T-{i}",
            issue_date=date(2026, 4, 5 + i),
            currency="EUR",
            net_minor=net,
            tax_minor=tax,
        )
        for i, (c, net, tax) in enumerate(figures)
    ]


def _ledger() -> list[tuple[Any, ...]]:
    """The ledger's rows without their ids, in the order written."""
    entries = {
        e.pk: (e.partner_id, e.date, e.kind, e.description, e.source_type, e.source_id)
        for e in JournalEntry.objects.order_by("pk")
    }
    postings = [
        (*entries[p.entry_id], p.partner_id, p.account, p.customer_id, p.amount_minor, p.currency)
        for p in Posting.objects.order_by("pk")
    ]
    return [*entries.values(), *postings]


def test_invoice_entries_by_hand(home):
    invoices = _invoices(home)
    invoice_entries_post(invoices)
    rows = [
        (p.entry.source_id, p.account, p.customer_id, p.amount_minor)
        for p in Posting.objects.select_related("entry").order_by("pk")
    ]
    a, b = invoices[0].customer_id, invoices[1].customer_id
    # 30.00 + 5.70 VAT: the customer owes 35.70; no posting of zero; 0.00 posts nothing.
    assert rows == [
        (9000, "receivable", a, 3570),
        (9000, "revenue", None, -3000),
        (9000, "vat_payable", None, -570),
        (9001, "receivable", b, 1000),
        (9001, "revenue", None, -1000),
        (9003, "receivable", b, 3000),
        (9003, "revenue", None, -2521),
        (9003, "vat_payable", None, -479),
    ]
    # An entry for every invoice, even one of 0.00 (it has no postings).
    assert list(JournalEntry.objects.order_by("pk").values_list("source_id", flat=True)) == [
        9000,
        9001,
        9002,
        9003,
    ]


def test_the_set_based_way_writes_what_invoice_entry_writes(home):
    if connection.vendor != "postgresql":
        pytest.skip("the set-based statement is PostgreSQL's; elsewhere invoice_entry is used")
    invoices = _invoices(home)
    with transaction.atomic():
        invoice_entries_post(invoices)
        set_based = _ledger()
        transaction.set_rollback(True)
    ledger_post_many(invoice_entries(invoices))
    assert set_based == _ledger()
    assert len(set_based) == 4 + 8
