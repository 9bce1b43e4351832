"""Bank statement import: camt.053 (validated against the XSD) and CSV; matching, the
queue of unmatched lines, duplicates, foreign currency, assignment by hand."""

from __future__ import annotations

from datetime import date

import pytest

from ispbill.billing.run import billing_run_start
from ispbill.core.invariants import invariants_check
from ispbill.core.money import Money
from ispbill.dataio.bank_files import (
    BankFileError,
    CsvBankFormat,
    bank_camt053_parse,
    bank_file_parse,
)
from ispbill.dataio.models import UnmatchedBankLine
from ispbill.dataio.payment_import import (
    BankImportError,
    bank_lines_import,
    unmatched_line_assign,
)
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import PartnerMode
from ispbill.payments.models import Payment
from ispbill.payments.services import payment_record
from tests.billing.builders import customer, service, tariff
from tests.dataio.camt import NS08, Entry, Tx, assert_valid_camt053_02, camt053
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(home):
    """c1 with an April invoice of 35.70, c2 with one of 11.90 (both issued 1 April)."""
    c1, c2 = customer(), customer()
    service(c1, tariff(price=3000), date(2026, 4, 1))
    service(c2, tariff(price=1000), date(2026, 4, 1))
    billing_run_start(run_date=date(2026, 4, 1))
    return c1, c2, Invoice.objects.get(customer=c1), Invoice.objects.get(customer=c2)


def _statement(c1, c2, inv1) -> bytes:
    return camt053(
        [
            # matched by invoice number
            Entry("35.70", reference="BANK-1", txs=[Tx("35.70", f"Rechnung {inv1.number}")]),
            # matched by customer reference
            Entry("11.90", reference="BANK-2", txs=[Tx("11.90", f"Kd-Nr {c2.reference} April")]),
            # nothing to match
            Entry("50.00", reference="BANK-3", txs=[Tx("50.00", "Danke fuer alles")]),
            # foreign currency, even though it names an invoice
            Entry(
                "40.00",
                currency="USD",
                reference="BANK-4",
                txs=[Tx("40.00", f"Invoice {inv1.number}")],
            ),
            # already recorded by hand with this bank reference
            Entry("5.00", reference="BANK-5", txs=[Tx("5.00", f"{c2.reference}")]),
            # money paid out: not a payment
            Entry("99.00", credit=False, reference="BANK-6", txs=[Tx("99.00", "Miete")]),
            # pending: not booked yet
            Entry("7.00", status="PDNG", reference="BANK-7", txs=[Tx("7.00", c2.reference)]),
            # a batch of two transfers in one entry, both for c2
            Entry(
                "3.00",
                reference="BANK-8",
                txs=[
                    Tx("1.00", f"{c2.reference} a", reference="BANK-8-1"),
                    Tx("2.00", f"{c2.reference} b", reference="BANK-8-2"),
                ],
            ),
        ]
    )


def test_camt053_import_matches_queues_and_is_idempotent(home, accounts):
    c1, c2, inv1, inv2 = accounts
    payment_record(
        customer=c2, amount=Money.parse("5.00", "EUR"), on=date(2026, 4, 9), reference="BANK-5"
    )
    data = _statement(c1, c2, inv1)
    assert_valid_camt053_02(data)
    parsed = bank_camt053_parse(data)
    assert parsed.account_iban == "DE02120300000000202051"
    assert [line.reference for line in parsed.lines] == [
        "BANK-1",
        "BANK-2",
        "BANK-3",
        "BANK-4",
        "BANK-5",
        "BANK-6",
        "BANK-8-1",
        "BANK-8-2",
    ]
    result = bank_lines_import(lines=parsed.lines, issuer=home, source="april.xml")
    assert [(line.reference, p.customer_id) for line, p in result.booked] == [
        ("BANK-1", c1.pk),
        ("BANK-2", c2.pk),
        ("BANK-8-1", c2.pk),
        ("BANK-8-2", c2.pk),
    ]
    assert [(line.reference, reason) for line, reason in result.queued] == [
        ("BANK-3", "no_match"),
        ("BANK-4", "foreign_currency"),
    ]
    assert [line.reference for line in result.duplicates] == ["BANK-5"]
    assert [line.reference for line in result.debits] == ["BANK-6"]
    inv1.refresh_from_db()
    inv2.refresh_from_db()
    assert (inv1.status, inv2.status) == ("paid", "paid")
    foreign = UnmatchedBankLine.objects.get(reference="BANK-4")
    assert (foreign.amount_minor, foreign.currency) == (4000, "USD")
    assert not Payment.objects.filter(currency="USD").exists()

    counts = (Payment.objects.count(), UnmatchedBankLine.objects.count())
    again = bank_lines_import(lines=bank_file_parse(data).lines, issuer=home)
    assert (again.booked, again.queued) == ([], [])
    assert len(again.duplicates) == 7
    assert (Payment.objects.count(), UnmatchedBankLine.objects.count()) == counts
    assert invariants_check()[1] == []


def test_queued_lines_are_assigned_by_hand(home, accounts):
    c1, c2, inv1, _ = accounts
    data = _statement(c1, c2, inv1)
    bank_lines_import(lines=bank_file_parse(data).lines, issuer=home)
    line = UnmatchedBankLine.objects.get(reference="BANK-3")
    payment = unmatched_line_assign(line=line, customer=c1, actor="clerk")
    line.refresh_from_db()
    assert (line.status, line.payment_id, line.assigned_by) == ("assigned", payment.pk, "clerk")
    assert (payment.amount_minor, payment.reference, payment.customer_id) == (5000, "BANK-3", c1.pk)
    with pytest.raises(BankImportError, match="already assigned"):
        unmatched_line_assign(line=line, customer=c1)
    foreign = UnmatchedBankLine.objects.get(reference="BANK-4")
    with pytest.raises(BankImportError, match="in USD"):
        unmatched_line_assign(line=foreign, customer=c1)
    booked = unmatched_line_assign(line=foreign, customer=c1, amount=Money.parse("36.80", "EUR"))
    assert (booked.amount_minor, booked.currency) == (3680, "EUR")
    # Assigned lines became payments with their bank reference: a re-import adds nothing.
    count = Payment.objects.count()
    again = bank_lines_import(lines=bank_file_parse(data).lines, issuer=home)
    assert again.booked == [] and again.queued == []
    assert Payment.objects.count() == count
    assert invariants_check()[1] == []


def test_a_line_is_assigned_only_to_a_customer_of_the_same_bank_account(home, accounts):
    c1, c2, inv1, _ = accounts
    own = PartnerFactory(mode=PartnerMode.OWN_INVOICING)
    stranger = customer(own)
    bank_lines_import(lines=bank_file_parse(_statement(c1, c2, inv1)).lines, issuer=home)
    line = UnmatchedBankLine.objects.get(reference="BANK-3")
    with pytest.raises(BankImportError, match="bank account"):
        unmatched_line_assign(line=line, customer=stranger)


def test_an_own_invoicing_partners_file_matches_only_its_customers(home, accounts):
    _c1, _c2, inv1, _ = accounts
    own = PartnerFactory(mode=PartnerMode.OWN_INVOICING)
    data = camt053([Entry("35.70", reference="X-1", txs=[Tx("35.70", inv1.number)])])
    result = bank_lines_import(lines=bank_file_parse(data).lines, issuer=own)
    assert [reason for _, reason in result.queued] == ["no_match"]
    assert UnmatchedBankLine.objects.get(reference="X-1").partner == own


def test_ambiguous_remittance_is_queued(home, accounts):
    c1, c2, _, _ = accounts
    data = camt053(
        [Entry("10.00", reference="A-1", txs=[Tx("10.00", f"{c1.reference} {c2.reference}")])]
    )
    result = bank_lines_import(lines=bank_file_parse(data).lines, issuer=home)
    assert [reason for _, reason in result.queued] == ["ambiguous"]


def test_camt053_001_08_is_read_too(home, accounts):
    _c1, c2, inv1, _ = accounts
    data = camt053(
        [
            Entry("35.70", reference="V8-1", txs=[Tx("35.70", f"Invoice {inv1.number}")]),
            Entry(
                "3.00",
                reference="V8-2",
                txs=[
                    Tx("1.00", c2.reference, reference="V8-2a"),
                    Tx("2.00", c2.reference, reference="V8-2b"),
                ],
            ),
            Entry("1.00", status="PDNG", reference="V8-3"),
        ],
        namespace=NS08,
    )
    lines = bank_file_parse(data).lines
    assert [(line.reference, str(line.amount), line.counterparty) for line in lines] == [
        ("V8-1", "35.70", "Max Mustermann"),
        ("V8-2a", "1.00", "Max Mustermann"),
        ("V8-2b", "2.00", "Max Mustermann"),
    ]
    result = bank_lines_import(lines=lines, issuer=home)
    assert len(result.booked) == 3


def test_entries_without_a_bank_reference_are_still_imported_once(home, accounts):
    _c1, _c2, inv1, _ = accounts
    data = camt053([Entry("35.70", txs=[Tx("35.70", inv1.number)])])
    first = bank_lines_import(lines=bank_file_parse(data).lines, issuer=home)
    assert len(first.booked) == 1
    assert first.booked[0][1].reference.startswith("H-")
    again = bank_lines_import(lines=bank_file_parse(data).lines, issuer=home)
    assert (again.booked, len(again.duplicates)) == ([], 1)


def test_other_xml_is_refused():
    with pytest.raises(BankFileError, match=r"camt\.053"):
        bank_file_parse(b'<?xml version="1.0"?><Document xmlns="urn:x"><A/></Document>')


def test_csv_with_configured_columns(home, accounts):
    _c1, c2, inv1, _ = accounts
    text = (
        "Buchungstag;Betrag;Waehrung;Verwendungszweck;Name;Referenz\n"
        f"10.04.2026;35,70;EUR;RE {inv1.number};Max;R-1\n"
        f"11.04.2026;-12,00;EUR;Gebuehr;Bank;R-2\n"
        f"12.04.2026;1.011,90;EUR;{c2.reference};Erika;R-3\n"
        "13.04.2026;20,00;CHF;Spende;Hans;R-4\n"
    )
    fmt = CsvBankFormat.from_mapping(
        "date=Buchungstag,amount=Betrag,currency=Waehrung,remittance=Verwendungszweck,"
        "counterparty=Name,reference=Referenz",
        date_format="%d.%m.%Y",
        decimal_comma=True,
    )
    lines = bank_file_parse(text.encode(), csv_format=fmt).lines
    assert [(line.reference, str(line.amount), line.is_credit) for line in lines] == [
        ("R-1", "35.70", True),
        ("R-2", "12.00", False),
        ("R-3", "1011.90", True),
        ("R-4", "20.00", True),
    ]
    result = bank_lines_import(lines=lines, issuer=home)
    assert [line.reference for line, _ in result.booked] == ["R-1", "R-3"]
    assert [(line.reference, r) for line, r in result.queued] == [("R-4", "foreign_currency")]
    assert len(bank_lines_import(lines=lines, issuer=home).duplicates) == 3


def test_csv_with_a_bad_row_is_refused_whole():
    text = "date,amount,reference\n2026-04-10,12.00,A\n2026-13-10,5.00,B\n2026-04-11,x,C\n"
    with pytest.raises(BankFileError) as info:
        bank_file_parse(text.encode())
    assert "row 3" in str(info.value) and "row 4" in str(info.value)
