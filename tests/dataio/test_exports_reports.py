"""Exports and reports on a small scenario worked by hand, and checked against the ledger."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum
from django_scopes import scope
from openpyxl import load_workbook

from ispbill.billing.run import billing_run_start
from ispbill.core.money import Money
from ispbill.dataio.exports import export_csv, export_table, export_xlsx, trial_balance_rows
from ispbill.dataio.reports import report_build
from ispbill.invoicing.models import Invoice
from ispbill.ledger.models import AccountCode, Posting
from ispbill.partners.models import PartnerMode
from ispbill.payments.credit_notes import credit_note_issue
from ispbill.payments.services import payment_record
from tests.billing.builders import customer, service, tariff
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

APRIL = (date(2026, 4, 1), date(2026, 4, 30))


def eur(text: str) -> Money:
    return Money.parse(text, "EUR")


@pytest.fixture
def april(home):
    """Home customers c1 (30.00 at 19 %), c2 (10.00 at 7 %), c4 (30.00 at 19 %); CityNet
    (percentage, 10 % of payments) with c3 (20.00 at 19 %). Billed 1 April; c1 and c3 pay,
    c2's invoice is credited in full, c4's stays open (due 15 April)."""
    city = PartnerFactory(name="CityNet", mode=PartnerMode.PERCENTAGE, commission_bp=1000)
    plan_a, plan_b, plan_c = (
        tariff(home, price=3000),
        tariff(home, price=1000, rate_bp=700),
        tariff(home, price=2000),
    )
    plan_c.available_to.add(city)
    c1, c2, c3, c4 = customer(), customer(), customer(city), customer()
    for c, plan in ((c1, plan_a), (c2, plan_b), (c3, plan_c), (c4, plan_a)):
        service(c, plan, date(2026, 4, 1))
    billing_run_start(run_date=date(2026, 4, 1))
    payment_record(customer=c1, amount=eur("35.70"), on=date(2026, 4, 5), reference="P1")
    payment_record(customer=c3, amount=eur("23.80"), on=date(2026, 4, 6), reference="P3")
    credit_note_issue(
        invoice=Invoice.objects.get(customer=c2), on=date(2026, 4, 10), reason="Goodwill"
    )
    return city, (c1, c2, c3, c4), (plan_a, plan_b, plan_c)


def _ledger(account: str, start: date, end: date) -> int:
    return int(
        Posting.objects.filter(
            account=account, entry__date__gte=start, entry__date__lte=end
        ).aggregate(s=Sum("amount_minor"))["s"]
        or 0
    )


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_reports_equal_hand_worked_figures_and_the_ledger(april):
    _city, (c1, _c2, _c3, _c4), _ = april
    start, end = APRIL
    revenue = report_build(key="revenue", start=start, end=end, currency="EUR")
    home_name = c1.partner.name
    assert sorted(revenue.rows) == sorted(
        [
            ["2026-04", "CityNet", "EUR", 2000],
            ["2026-04", home_name, "EUR", 6000],  # 30 + 10 + 30 invoiced, 10 credited
        ]
    )
    assert sum(r[3] for r in revenue.rows) == -_ledger(AccountCode.REVENUE, start, end) == 8000

    vat = report_build(key="vat", start=start, end=end, currency="EUR")
    assert sorted((r[1], r[4], r[5]) for r in vat.rows) == [
        ("19.00", 8000, 1520),  # 30 + 30 + 20 net; 5.70 + 5.70 + 3.80
        ("7.00", 0, 0),  # 70 invoiced, 70 credited
    ]
    assert sum(r[5] for r in vat.rows) == -_ledger(AccountCode.VAT_PAYABLE, start, end)

    aging = report_build(key="aging", start=start, end=end, currency="EUR")
    assert [(r[0], r[2], r[3]) for r in aging.rows] == [
        ("Current (not yet due)", 0, 0),
        ("1–30 days", 1, 3570),  # c4's invoice, due 15 April, 15 days late on 30 April
        ("31–60 days", 0, 0),
        ("61–90 days", 0, 0),
        ("Over 90 days", 0, 0),
    ]
    receivable = _ledger(AccountCode.RECEIVABLE, date(2000, 1, 1), end)
    assert sum(r[3] for r in aging.rows) == receivable == 3570

    commissions = report_build(key="commissions", start=start, end=end, currency="EUR")
    assert commissions.rows == [["2026-04", "CityNet", "EUR", 1, 2000, 200]]

    customers = report_build(key="customers", start=start, end=end, currency="EUR")
    by_tariff = {r[0]: r for r in customers.rows}
    assert [r[2] for r in customers.rows[:-1]] == [2, 1, 1]  # active customers per tariff
    assert by_tariff["All customers"][-1] == 4

    assert report_build(key="aggregated", start=start, end=end, currency="EUR").rows == []


def test_export_totals_equal_the_ledger(april):
    start, end = APRIL
    invoices = _rows(export_csv(export_table(kind="invoices", start=start, end=end)))
    assert len(invoices) == 4
    total = sum(Decimal(r["total"]) for r in invoices)
    assert total == Decimal("105.90")  # 35.70 + 10.70 + 23.80 + 35.70
    invoiced = Posting.objects.filter(
        entry__kind="invoice", account=AccountCode.RECEIVABLE, entry__date__range=APRIL
    ).aggregate(s=Sum("amount_minor"))["s"]
    assert total == Decimal(invoiced) / 100
    # Decimal strings with the currency's two decimals, never floats.
    assert {r["tax"] for r in invoices} >= {"5.70", "0.70", "3.80"}

    notes = _rows(export_csv(export_table(kind="credit_notes", start=start, end=end)))
    assert [(r["total"], r["net"]) for r in notes] == [("10.70", "10.00")]

    payments = _rows(export_csv(export_table(kind="payments", start=start, end=end)))
    paid = sum(Decimal(r["amount"]) for r in payments)
    assert paid == Decimal(_ledger(AccountCode.BANK, start, end)) / 100 == Decimal("59.50")

    journal = _rows(export_csv(export_table(kind="journal", start=start, end=end)))
    debit = sum(Decimal(r["debit"]) for r in journal)
    credit = sum(Decimal(r["credit"]) for r in journal)
    assert debit == credit > 0
    assert len(journal) == Posting.objects.filter(entry__date__range=APRIL).count()

    trial = _rows(export_csv(export_table(kind="trial_balance", start=start, end=end)))
    closing = {r["account"]: Decimal(r["closing"]) for r in trial}
    assert sum(closing.values()) == 0
    assert closing["revenue"] == Decimal("-80.00")
    assert closing["vat_payable"] == Decimal("-15.20")
    assert closing["receivable"] == Decimal("35.70")
    for row in trial_balance_rows(start, end):
        assert row["closing"] == _ledger(row["account"], date(2000, 1, 1), end)
    assert sum(r["debit"] - r["credit"] for r in trial_balance_rows(start, end)) == 0


def test_xlsx_export_has_exact_amounts(april):
    start, end = APRIL
    table = export_table(kind="invoices", start=start, end=end)
    sheet = load_workbook(io.BytesIO(export_xlsx(table))).active
    header = [c.value for c in sheet[1]]
    assert header == table.columns
    totals = [row[header.index("total")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert sorted(Decimal(str(t)) for t in totals) == [
        Decimal("10.7"),
        Decimal("23.8"),
        Decimal("35.7"),
        Decimal("35.7"),
    ]


def test_a_partner_users_export_holds_only_its_partners_data(april):
    city, (_c1, _c2, c3, _c4), _ = april
    start, end = APRIL
    with scope(partner=city.pk, customer=None, account=()):
        invoices = _rows(export_csv(export_table(kind="invoices", start=start, end=end)))
        payments = _rows(export_csv(export_table(kind="payments", start=start, end=end)))
        journal = export_table(kind="journal", start=start, end=end)
        trial = export_table(kind="trial_balance", start=start, end=end)
        revenue = report_build(key="revenue", start=start, end=end, currency="EUR")
        commissions = report_build(key="commissions", start=start, end=end, currency="EUR")
    assert [r["customer_reference"] for r in invoices] == [c3.reference]
    assert [r["customer_reference"] for r in payments] == [c3.reference]
    # CityNet keeps no books of its own (the operator issues its customers' invoices).
    assert (journal.rows, trial.rows) == ([], [])
    assert [r[1] for r in revenue.rows] == ["CityNet"]
    assert [r[1] for r in commissions.rows] == ["CityNet"]
