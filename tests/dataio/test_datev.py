"""The DATEV Buchungsstapel export, worked by hand for March 2026 of the home partner:

- Erika (customer number 42): Fiber 30.00 + 19 % = 35.70, invoiced 1 March;
- Hans (43): TV 10.00 + 7 % = 10.70, invoiced 1 March, credited whole on 5 March;
- Erika pays 35.70 by bank transfer on 10 March.

With debitors numbered 10000 + customer number (SKR 03, automatic accounts):

    35,70 S  10042 / 8400  0103  invoice   Erika
    10,70 S  10043 / 8300  0103  invoice   Hans
    10,70 H  10043 / 8300  0503  credit note
    35,70 S   1200 / 10042 1003  receipt   Zahlung Erika

Also: the header field by field, the bytes are Windows-1252, a partner gets only its own
books (never another issuer's rows), a bad month is a 422 / form error / exit code 2."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from ispbill.accounts.models import User
from ispbill.billing.run import billing_run_start
from ispbill.catalog.models import Tariff, TaxRate
from ispbill.core.money import Money
from ispbill.core.tenancy import partner_scope, system_scope
from ispbill.customers.models import Customer
from ispbill.dataio.datev import COLUMNS, datev_export, datev_read, datev_settings_save
from ispbill.dataio.exports import ExportError
from ispbill.dataio.models import DatevSettings
from ispbill.invoicing.models import CreditNote, Invoice
from ispbill.payments.credit_notes import credit_note_issue
from ispbill.payments.models import Payment
from ispbill.payments.services import payment_record
from ispbill.subscriptions.models import Service
from tests.api.conftest import Seed, assert_error

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 4, 2, 9, 30, 15, 123000, tzinfo=UTC)


def _month(seed: Seed) -> dict[str, Any]:
    reduced = TaxRate.objects.create(partner=seed.home, name="VAT 7 %", rate_bp=700)
    tv = Tariff.objects.create(partner=seed.home, name="TV", price_minor=1000, tax_rate=reduced)
    erika = Customer.objects.create(partner=seed.home, reference="42", name="Erika Müller")
    hans = Customer.objects.create(partner=seed.home, reference="43", name="Hans")
    for c, t in ((erika, seed.fiber), (hans, tv), (seed.olga, seed.own_tariff)):
        Service.objects.create(partner=c.partner, customer=c, tariff=t, start_date=date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    inv_erika = Invoice.objects.get(customer=erika)
    inv_hans = Invoice.objects.get(customer=hans)
    assert (inv_erika.total_minor, inv_hans.total_minor) == (3570, 1070)
    note = credit_note_issue(invoice=inv_hans, on=date(2026, 3, 5), reason="Never connected")
    pay = payment_record(
        customer=erika,
        amount=Money.parse("35.70", "EUR"),
        on=date(2026, 3, 10),
        method="bank_transfer",
        reference="BANK-1",
    )
    # April: outside the month.
    payment_record(customer=hans, amount=Money.parse("5.00", "EUR"), on=date(2026, 4, 1))
    datev_settings_save(
        issuer=seed.home,
        consultant_number=4711,
        client_number=12345,
        debitor_numbering="reference",
    )
    return {"erika": inv_erika, "hans": inv_hans, "note": note, "payment": pay}


def test_hand_worked_month_field_by_field(seed: Seed):
    with system_scope():
        docs = _month(seed)
        result = datev_export(issuer_id=seed.home.pk, month="2026-03", now=NOW)
    lines = result.data.split(b"\r\n")
    assert lines[-1] == b"" and len(lines) == 2 + 4 + 1  # header, headings, 4 bookings
    header = lines[0].decode("cp1252").split(";")
    assert len(header) == 31
    assert header[:6] == ['"EXTF"', "700", "21", '"Buchungsstapel"', "13", "20260402093015123"]
    assert header[10:16] == ["4711", "12345", "20260101", "4", "20260301", "20260331"]
    assert header[16] == '"ispbill 2026-03"'
    assert header[18:22] == ["1", "0", "0", '"EUR"']
    assert header[26] == '"03"'
    rows = datev_read(result.data)
    assert rows[1] == list(COLUMNS) and len(rows[1]) == 125
    bookings = rows[2:]
    assert all(len(r) == 125 for r in bookings)
    picked = [[r[i] for i in (0, 1, 2, 6, 7, 8, 9, 10, 13)] for r in bookings]
    erika_no, hans_no = docs["erika"].number, docs["hans"].number
    receipt = Payment.objects.get(pk=docs["payment"].pk).receipt_number
    assert receipt
    assert picked == [
        ["35,70", "S", "EUR", "10042", "8400", "", "0103", erika_no, "Erika Müller"],
        ["10,70", "S", "EUR", "10043", "8300", "", "0103", hans_no, "Hans"],
        [
            "10,70", "H", "EUR", "10043", "8300", "", "0503", docs["note"].number,
            f"Gutschrift zu {hans_no} Hans",
        ],
        ["35,70", "S", "EUR", "1200", "10042", "", "1003", receipt, "Zahlung Erika Müller"],
    ]  # fmt: skip
    # Balanced as the accountant sees it: the debitors net to 35.70 - 35.70 = 0 for Erika
    # and 10.70 - 10.70 = 0 for Hans.
    assert "Müller".encode("cp1252") in result.data and "Müller".encode() not in result.data
    assert result.filename == f"EXTF_Buchungsstapel_{seed.home.pk}_2026-03.csv"
    # OwnNet's invoice of 1 March (its own books) is not among the four bookings.
    assert Invoice.objects.get(customer=seed.olga).issuer_id == seed.ownnet.pk


def test_bu_keys_skr04_and_id_numbering(seed: Seed):
    with system_scope():
        docs = _month(seed)
        datev_settings_save(
            issuer=seed.home,
            chart="04",
            automatic_accounts=False,
            revenue_account_standard=4000,
            revenue_account_reduced=4000,
            debitor_numbering="id",
            debitor_start=20000,
            account_length=4,
        )
        rows = datev_read(datev_export(issuer_id=seed.home.pk, month="2026-03").data)[2:]
    erika_id = docs["erika"].customer_id
    assert [(r[6], r[7], r[8]) for r in rows] == [
        (str(20000 + erika_id), "4000", "3"),  # BU 3: USt 19 %
        (str(20000 + docs["hans"].customer_id), "4000", "2"),  # BU 2: USt 7 %
        (str(20000 + docs["hans"].customer_id), "4000", "2"),
        ("1800", str(20000 + erika_id), ""),
    ]
    head = datev_read(datev_export(issuer_id=seed.home.pk, month="2026-03").data)[0]
    assert head[26] == "04"


def test_a_non_numeric_customer_number_is_refused_clearly(seed: Seed):
    with system_scope():
        Service.objects.create(
            partner=seed.home, customer=seed.alice, tariff=seed.fiber, start_date=date(2026, 3, 1)
        )
        billing_run_start(run_date=date(2026, 3, 1))
        datev_settings_save(issuer=seed.home, debitor_numbering="reference")
        with pytest.raises(ExportError, match="A-1"):
            datev_export(issuer_id=seed.home.pk, month="2026-03")
        datev_settings_save(issuer=seed.home, debitor_numbering="single")
        [row] = datev_read(datev_export(issuer_id=seed.home.pk, month="2026-03").data)[2:]
        assert (row[0], row[6], row[7]) == ("35,70", "10000", "8400")


def test_partner_gets_only_its_own_books(seed: Seed):
    with system_scope():
        _month(seed)
    own_invoice = Invoice.objects.get(customer=seed.olga)
    assert own_invoice.issuer_id == seed.ownnet.pk
    home_numbers = list(
        Invoice.objects.filter(issuer=seed.home).values_list("number", flat=True)
    ) + list(CreditNote.objects.filter(issuer=seed.home).values_list("number", flat=True))

    r = seed.ownnet_admin.get("/exports/datev", month="2026-03")  # its one issuer: itself
    assert r.status == 200 and r.headers["Content-Type"] == "text/csv; charset=windows-1252"
    rows = datev_read(r.raw)[2:]
    assert [(x[0], x[1], x[7], x[10]) for x in rows] == [("23,80", "S", "8400", own_invoice.number)]
    assert not any(n.encode() in r.raw for n in home_numbers)
    assert_error(seed.ownnet_admin.get("/exports/datev", issuer=seed.home.pk, month="2026-03"), 422)
    # A percentage partner keeps no books: nothing to export.
    assert_error(seed.citynet_admin.get("/exports/datev", month="2026-03"), 422, "export")
    assert seed.citynet_admin.get("/exports/datev/issuers").body == []
    # The operator exports either issuer.
    r = seed.accountant.get("/exports/datev", issuer=seed.ownnet.pk, month="2026-03")
    assert r.status == 200 and own_invoice.number.encode() in r.raw
    assert not any(n.encode() in r.raw for n in home_numbers)
    with partner_scope(seed.ownnet.pk), pytest.raises(ExportError):
        datev_export(issuer_id=seed.home.pk, month="2026-03")


@pytest.mark.parametrize("month", ["2026-13", "03/2026", "", "1999-12", "2026-3-1"])
def test_bad_month_is_a_4xx(seed: Seed, month: str):
    body = assert_error(
        seed.accountant.get("/exports/datev", issuer=seed.home.pk, month=month), 422, "export"
    )
    assert "month" in body["fields"]


def test_settings_api(seed: Seed):
    r = seed.accountant.get("/exports/datev/settings", issuer=seed.home.pk)
    assert r.status == 200 and r.body["saved"] is False
    assert r.body["accounts"]["revenue_account_standard"] == 8400
    body = {**r.body, "chart": "04", "consultant_number": 99}
    for k in ("issuer", "issuer_name", "saved", "accounts"):
        body.pop(k)
    bad = seed.accountant.call("PUT", f"/exports/datev/settings?issuer={seed.home.pk}", body)
    assert "consultant_number" in assert_error(bad, 422)["fields"]
    assert not DatevSettings.objects.exists()
    body["consultant_number"] = 1234567
    r = seed.accountant.call("PUT", f"/exports/datev/settings?issuer={seed.home.pk}", body)
    assert r.status == 200 and r.body["accounts"]["bank_account"] == 1800
    # A partner cannot change (nor read) another issuer's settings.
    r = seed.ownnet_admin.call("PUT", f"/exports/datev/settings?issuer={seed.home.pk}", body)
    assert_error(r, 422)
    assert (
        seed.support.call("PUT", f"/exports/datev/settings?issuer={seed.home.pk}", body).status
        == 403
    )


def _login(username: str) -> Client:
    c = Client()
    c.force_login(User.objects.get(username=username))
    return c


def test_web_export_and_settings_operator_and_partner(seed: Seed):
    with system_scope():
        _month(seed)
    own_invoice = Invoice.objects.get(customer=seed.olga)
    op = _login("acc")
    page = op.get("/data/datev/")
    assert page.status_code == 200 and "OwnNet" in page.content.decode()
    r = op.get("/data/datev/", {"issuer": seed.home.pk, "month": "2026-03"})
    assert r.status_code == 200 and r["Content-Type"] == "text/csv; charset=windows-1252"
    assert len(datev_read(r.content)) == 6
    r = op.get("/data/datev/", {"issuer": seed.home.pk, "month": "2026-13"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/html")
    assert "YYYY-MM" in r.content.decode()
    # Settings of the operator's books, posted: a bad number is a form error, then saved.
    url = f"/data/datev/settings/?issuer={seed.home.pk}"
    assert op.get(url).status_code == 200
    form = {
        "consultant_number": "12",
        "client_number": "7",
        "fiscal_year_start_month": "1",
        "account_length": "4",
        "chart": "03",
        "automatic_accounts": "on",
        "debitor_numbering": "id",
        "debitor_start": "10000",
        "label": "",
    }
    r = op.post(url, form)
    assert r.status_code == 200 and "Beraternummer" in r.content.decode()
    assert DatevSettings.objects.get(partner=seed.home).consultant_number == 4711  # kept
    r = op.post(url, {**form, "consultant_number": "4712"})
    assert r.status_code == 302
    assert DatevSettings.objects.get(partner=seed.home).consultant_number == 4712

    own = _login("own")
    page = own.get("/data/datev/").content.decode()
    assert "OwnNet" in page and f'value="{seed.home.pk}"' not in page
    r = own.get("/data/datev/", {"issuer": seed.ownnet.pk, "month": "2026-03"})
    assert r.status_code == 200 and own_invoice.number.encode() in r.content
    r = own.get("/data/datev/", {"issuer": seed.home.pk, "month": "2026-03"})
    assert r["Content-Type"].startswith("text/html")  # not a choice: a form error
    # Its settings form; the operator's books' settings are out of reach.
    r = own.post(
        f"/data/datev/settings/?issuer={seed.ownnet.pk}", {**form, "consultant_number": "5000"}
    )
    assert r.status_code == 302
    assert DatevSettings.objects.get(partner=seed.ownnet).consultant_number == 5000
    r = own.post(url, {**form, "consultant_number": "6000"})
    assert r.status_code == 302 and r["Location"] == "/data/datev/"
    assert DatevSettings.objects.get(partner=seed.home).consultant_number == 4712
    # A percentage partner keeps no books: the page says so.
    city = _login("city")
    assert "no books of your own" in city.get("/data/datev/").content.decode()


def test_cli(seed: Seed, tmp_path: Path, capsys: Any):
    from ispbill.cli import main

    with system_scope():
        _month(seed)
    out = tmp_path / "march.csv"
    assert (
        main(
            ["export-datev", "--issuer", str(seed.home.pk), "--month", "2026-03", "--out", str(out)]
        )
        == 0
    )
    assert len(datev_read(out.read_bytes())) == 6
    assert "4 bookings written" in capsys.readouterr().err
    assert main(["export-datev", "--issuer", str(seed.home.pk), "--month", "March"]) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    assert main(["export-datev", "--issuer", str(seed.citynet.pk), "--month", "2026-03"]) == 2
