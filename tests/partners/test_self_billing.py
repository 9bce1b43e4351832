"""Commission statements as self-billing credit notes, worked by hand (docs/reseller-modes.md,
"Percentage": "The statement as a document").

A percentage partner earns 10 % on invoiced amounts; three customers are billed on 1 March
2026 for tariffs of net 30.00, 45.00 and 25.00 (VAT 19 % on the invoices; commission is on
the net). Commission: 3.00 + 4.50 + 2.50 = 10.00."""

from __future__ import annotations

import subprocess
from datetime import date
from decimal import Decimal

import pytest
from facturx import xml_check_xsd
from lxml import etree

from ispbill.billing.run import billing_run_start
from ispbill.commission.statements import (
    StatementError,
    commission_statement_approve,
    commission_statement_build,
    commission_statement_document_data,
    commission_statement_pay,
    commission_statement_pdf,
    commission_statement_xml,
    commission_statements_build_closed,
    commission_tax_treatment,
    last_closed_month,
)
from ispbill.core.invariants import invariants_check
from ispbill.documents.facturx import facturx_xml_build
from ispbill.dunning.daily import daily_work
from ispbill.invoicing.models import DocumentType, NumberSequence
from ispbill.ledger.models import AccountCode, Posting
from ispbill.partners.models import (
    CommissionBase,
    CommissionStatement,
    PartnerMode,
    StatementStatus,
)
from tests.factories import CustomerFactory, PartnerFactory, ServiceFactory, TariffFactory

pytestmark = pytest.mark.django_db
MARCH = date(2026, 3, 1)
DE_VAT = "DE136695976"
AT_VAT = "ATU13585627"
RAM = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"
RSM = "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}"


def _partner(**kw):  # type: ignore[no-untyped-def]
    return PartnerFactory(
        mode=PartnerMode.PERCENTAGE,
        commission_bp=1000,
        commission_base=CommissionBase.INVOICED,
        **kw,
    )


def _three_invoices(partner, names=("Anna Berger", "Bernd Cramer", "Carla Dorn")):  # type: ignore[no-untyped-def]
    for name, price in zip(names, (3000, 4500, 2500), strict=True):
        customer = CustomerFactory(partner=partner, name=name)
        ServiceFactory(customer=customer, tariff=TariffFactory(price_minor=price), start_date=MARCH)
    billing_run_start(run_date=MARCH)


def _balance(account: str) -> int:
    return sum(Posting.objects.filter(account=account).values_list("amount_minor", flat=True))


def test_domestic_partner_pays_19_percent_vat_on_its_commission(home):
    home.country, home.vat_id = "DE", DE_VAT
    home.save()
    partner = _partner(country="DE", vat_id="DE811907980")
    _three_invoices(partner)
    st = commission_statement_build(partner=partner, month=MARCH)
    # 10 % of 30.00 + 45.00 + 25.00 = 3.00 + 4.50 + 2.50 = 10.00; 19 % of 10.00 = 1.90.
    assert (st.total_minor, st.tax_rate_bp, st.tax_category) == (1000, 1900, "S")
    assert (st.tax_minor, st.gross_minor) == (190, 1190)
    assert st.number == ""  # a draft has no number yet
    st = commission_statement_approve(statement=st, on=date(2026, 4, 2))
    assert st.number == "GS202600001"
    # Expense 10.00 net, input VAT 1.90 off the VAT payable, 11.90 owed to the partner.
    assert _balance(AccountCode.COMMISSION_EXPENSE) == 1000
    assert _balance(AccountCode.COMMISSION_PAYABLE) == -1190
    commission_statement_pay(statement=st, on=date(2026, 4, 10), reference="P-1")
    assert _balance(AccountCode.COMMISSION_PAYABLE) == 0
    assert invariants_check()[1] == []


def test_partner_in_another_eu_country_gets_the_reverse_charge(home):
    home.country, home.vat_id = "DE", DE_VAT
    home.save()
    partner = _partner(country="AT", vat_id=AT_VAT)
    _three_invoices(partner)
    st = commission_statement_build(partner=partner, month=MARCH)
    st = commission_statement_approve(statement=st, on=date(2026, 4, 2))
    assert (st.total_minor, st.tax_minor, st.gross_minor) == (1000, 0, 1000)
    assert st.tax_category == "AE" and "reverse charge" in st.tax_note.lower()
    xml = commission_statement_xml(st)
    tree = etree.fromstring(xml)
    assert tree.findtext(f".//{RAM}ExemptionReason") == st.tax_note
    assert tree.findtext(f".//{RAM}ApplicableTradeTax/{RAM}CategoryCode") == "AE"
    # Both VAT ids on the document: the partner as seller, the operator as buyer.
    seller = tree.find(f".//{RAM}SellerTradeParty")
    buyer = tree.find(f".//{RAM}BuyerTradeParty")
    assert seller is not None and buyer is not None
    assert seller.findtext(f".//{RAM}ID") == AT_VAT
    assert buyer.findtext(f".//{RAM}ID") == DE_VAT


def test_german_partner_gets_the_german_reverse_charge_note(home):
    home.country = "AT"
    home.save()
    partner = _partner(country="DE", vat_id=DE_VAT)
    rate, category, note = commission_tax_treatment(partner, home)
    assert (rate, category) == (0, "AE")
    assert note == "Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge)."


def test_partner_without_vat_id_gets_no_vat(home):
    partner = _partner(country="DE", vat_id="")
    _three_invoices(partner)
    st = commission_statement_build(partner=partner, month=MARCH)
    assert (st.total_minor, st.tax_minor, st.gross_minor, st.tax_category) == (1000, 0, 1000, "O")
    assert "not VAT-registered" in st.tax_note or "nicht umsatzsteuerlich" in st.tax_note


def test_domestic_partner_without_a_standard_rate_is_refused(home):
    home.country = "DE"
    home.save()
    partner = _partner(country="DE", vat_id=DE_VAT)
    with pytest.raises(StatementError, match="no active standard tax rate"):
        commission_tax_treatment(partner, home)


def test_numbers_are_gapless_across_approvals_and_a_failed_approval_returns_its_number(home):
    first, second = _partner(), _partner()
    _three_invoices(first, names=("A", "B", "C"))
    _three_invoices(second, names=("D", "E", "F"))
    a = commission_statement_build(partner=first, month=MARCH)
    b = commission_statement_build(partner=second, month=MARCH)
    a = commission_statement_approve(statement=a, on=date(2026, 4, 2))
    # An approval that fails (the total no longer matches: tampered) takes no number.
    CommissionStatement.objects.filter(pk=b.pk).update(total_minor=1)
    with pytest.raises(StatementError):
        commission_statement_approve(statement=b, on=date(2026, 4, 2))
    CommissionStatement.objects.filter(pk=b.pk).update(total_minor=1000)
    b = commission_statement_approve(statement=b, on=date(2026, 4, 3))
    assert (a.number, b.number) == ("GS202600001", "GS202600002")
    seq = NumberSequence.objects.get(issuer=home, doc_type=DocumentType.SELF_BILLING)
    assert seq.next_value == 3


def test_the_pattern_is_the_issuers_setting(home):
    home.self_billing_number_pattern = "PROV-{year}-{next|3}"
    home.save()
    partner = _partner()
    _three_invoices(partner)
    st = commission_statement_build(partner=partner, month=MARCH)
    st = commission_statement_approve(statement=st, on=date(2026, 4, 2))
    assert st.number == "PROV-2026-001"


def test_lines_name_the_customer_and_the_invoice(home):
    partner = _partner()
    _three_invoices(partner)
    st = commission_statement_build(partner=partner, month=MARCH)
    data = commission_statement_document_data(st)
    customers = sorted(e["customer"].split(" (")[0] for e in data["entries"])
    assert customers == ["Anna Berger", "Bernd Cramer", "Carla Dorn"]
    assert all(e["reference"].startswith("2026") for e in data["entries"])
    assert {e["description"] for e in data["entries"]} == {"Rechnung"}  # a German partner
    assert sorted((e["base"], e["percent"], e["amount"]) for e in data["entries"]) == [
        ("25.00", "10.00", "2.50"),
        ("30.00", "10.00", "3.00"),
        ("45.00", "10.00", "4.50"),
    ]


def test_factur_x_389_validates_and_the_pdf_carries_it(home, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    home.country, home.vat_id = "DE", DE_VAT
    home.save()
    partner = _partner(country="DE", vat_id="DE811907980", iban="DE75512108001245126199")
    _three_invoices(partner)
    st = commission_statement_build(partner=partner, month=MARCH)
    with pytest.raises(StatementError, match="draft"):
        commission_statement_xml(st)
    st = commission_statement_approve(statement=st, on=date(2026, 4, 2))
    xml = commission_statement_xml(st)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    tree = etree.fromstring(xml)
    assert tree.findtext(f"{RSM}ExchangedDocument/{RAM}TypeCode") == "389"
    assert tree.findtext(f"{RSM}ExchangedDocument/{RAM}ID") == st.number
    assert tree.findtext(f".//{RAM}GrandTotalAmount") == "11.90"
    assert tree.findtext(f".//{RAM}TaxTotalAmount") == "1.90"
    assert tree.findtext(f".//{RAM}IBANID") == "DE75512108001245126199"
    pdf = commission_statement_pdf(st)
    from facturx import get_facturx_xml_from_pdf

    name, embedded = get_facturx_xml_from_pdf(pdf, check_xsd=True)
    assert name == "factur-x.xml" and b"<ram:TypeCode>389</ram:TypeCode>" in embedded
    st.refresh_from_db()
    assert st.pdf.startswith("commission/") and (tmp_path / st.pdf).is_file()
    # Stored: the second download is the same file, not a new render.
    assert commission_statement_pdf(st) == pdf


def test_a_draft_is_no_e_invoice(home):
    partner = _partner()
    _three_invoices(partner)
    st = commission_statement_build(partner=partner, month=MARCH)
    data = commission_statement_document_data(st)
    assert data["document"]["self_billing"] is False
    with pytest.raises(Exception, match="not an e-invoice"):
        facturx_xml_build(data)


def _pdf_pages_text(pdf: bytes, tmp_path) -> list[str]:  # type: ignore[no-untyped-def]
    path = tmp_path / "s.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout
    return out.split("\f")


@pytest.mark.parametrize("count", [24, 27, 30])
def test_totals_never_fall_alone_onto_a_page(home, tmp_path, settings, count):
    settings.MEDIA_ROOT = str(tmp_path)
    partner = _partner()
    names = tuple(f"Kunde {n:02d}" for n in range(count))
    for name in names:
        customer = CustomerFactory(partner=partner, name=name)
        ServiceFactory(customer=customer, tariff=TariffFactory(price_minor=1000), start_date=MARCH)
    billing_run_start(run_date=MARCH)
    st = commission_statement_build(partner=partner, month=MARCH)
    st = commission_statement_approve(statement=st, on=date(2026, 4, 2))
    pages = [p for p in _pdf_pages_text(commission_statement_pdf(st), tmp_path) if p.strip()]
    assert len(pages) >= 2
    last = pages[-1]
    # The page with the total also has lines of the statement (at least one customer).
    assert any(name in last for name in names)
    total = f"{Decimal(st.gross_minor) / 100:.2f}"
    assert total in last or total.replace(".", ",") in last


def test_closed_months_are_built_once(home):
    partner = _partner()
    _three_invoices(partner)
    result = commission_statements_build_closed(today=date(2026, 6, 15))
    # March (lines), April and May (empty, so the series has no holes); June is not closed.
    assert sorted(st.period_start for st in result.built) == [
        date(2026, 3, 1),
        date(2026, 4, 1),
        date(2026, 5, 1),
    ]
    assert result.built[0].total_minor == 1000
    again = commission_statements_build_closed(today=date(2026, 6, 15))
    assert again.built == [] and again.updated == [] and again.failures == []
    assert "nothing new" in again.message()
    assert CommissionStatement.objects.count() == 3


def test_approved_months_are_left_alone_and_other_modes_only_with_lines(home):
    partner = _partner()
    other = PartnerFactory(mode=PartnerMode.AGGREGATED)
    _three_invoices(partner)
    march = commission_statement_build(partner=partner, month=MARCH)
    commission_statement_approve(statement=march, on=date(2026, 4, 2))
    result = commission_statements_build_closed(today=date(2026, 5, 2))
    assert [st.period_start for st in result.built] == [date(2026, 4, 1)]
    assert not CommissionStatement.objects.filter(partner=other).exists()
    assert CommissionStatement.objects.get(pk=march.pk).status == StatementStatus.APPROVED


def test_statement_day_holds_back_the_month_just_closed():
    assert last_closed_month(date(2026, 6, 15)) == date(2026, 5, 1)
    assert last_closed_month(date(2026, 6, 1), statement_day=5) == date(2026, 4, 1)
    assert last_closed_month(date(2026, 6, 5), statement_day=5) == date(2026, 5, 1)
    assert last_closed_month(date(2026, 1, 3), statement_day=5) == date(2025, 11, 1)


def test_daily_work_builds_the_closed_months(home):
    partner = _partner(commission_statement_day=3)
    _three_invoices(partner)
    result = daily_work(today=date(2026, 4, 2))
    assert result["statements_built"] == 0  # April 2: before the statement day
    result = daily_work(today=date(2026, 4, 3))
    assert result["statements_built"] == 1
    assert daily_work(today=date(2026, 4, 4))["statements_built"] == 0
    st = CommissionStatement.objects.get(partner=partner)
    assert (st.period_start, st.total_minor, st.status) == (MARCH, 1000, StatementStatus.DRAFT)


def test_the_pdf_is_stored_after_the_approval_commits(
    home, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.RENDER_PDFS_ON_ISSUE = True
    partner = _partner()
    _three_invoices(partner)
    st = commission_statement_build(partner=partner, month=MARCH)
    with django_capture_on_commit_callbacks(execute=True):
        st = commission_statement_approve(statement=st, on=date(2026, 4, 2))
    st.refresh_from_db()
    assert st.pdf == f"commission/{home.pk}/2026/{st.number}.pdf" and st.pdf_error == ""
    assert (tmp_path / st.pdf).read_bytes().startswith(b"%PDF")
