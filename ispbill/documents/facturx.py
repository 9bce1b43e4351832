"""Factur-X / ZUGFeRD (profile EN 16931) invoice XML, and its embedding into the PDF.

The XML is UN/CEFACT Cross Industry Invoice (CII D16B) as Factur-X 1.0 profile "EN 16931"
requires, built from the same document dict as the PDF (data.py). Invoices and aggregated
invoices are type code 380, credit notes 381 (with positive amounts and a reference to the
credited invoice), approved commission statements (``document.self_billing``) 389, the
self-billed invoice: the partner is the seller, the operator who issues it the buyer.
Aggregated invoices carry their sub-customer in each line's note.

Embedding, fast path (stored PDFs): Typst writes the PDF as PDF/A-3b with the XML attached as
``factur-x.xml`` (``/AFRelationship /Data``, listed in the catalog's ``/AF`` and
``/EmbeddedFiles``; see render.py), and ``facturx_xmp_complete`` adds the Factur-X XMP
properties and their PDF/A extension schema to Typst's XMP packet, rewriting only that one
object and the cross-reference table. Slow path for any other PDF: ``facturx_pdf_embed``
(the ``factur-x`` library rewriting the whole file with pypdf).

EN 16931 line amounts are always net. For an issuer whose prices include VAT, each line's net
is derived from its gross amount so that the nets of a rate add up to that rate's taxable
amount in the tax breakdown (the remainder of rounding goes to the largest line).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from lxml import etree

from ispbill.core.errors import DomainError
from ispbill.documents.i18n import document_texts, line_adjustment_text

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}
EN16931_GUIDELINE = "urn:cen.eu:en16931:2017"
TYPE_CODES = {"invoice": "380", "aggregated_invoice": "380", "credit_note": "381"}
# An approved commission statement is a self-billing credit note ("Gutschrift"): the
# operator (buyer of the partner's service) issues it in the partner's (seller's) name.
SELF_BILLED = "389"
CENT = Decimal("0.01")
FACTURX_FILENAME = "factur-x.xml"
FX_NAMESPACE = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
FX_CONFORMANCE_LEVEL = "EN 16931"


class FacturxError(DomainError):
    """The document cannot be expressed as a Factur-X invoice."""

    code = "facturx"


def _el(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> Any:
    node = etree.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    if text is not None:
        node.text = text
    return node


def _ram(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> Any:
    return _el(parent, RAM, tag, text, **attrs)


def _date(parent: etree._Element, tag: str, iso: str, *, ns: str = UDT) -> None:
    holder = _ram(parent, tag)
    _el(holder, ns, "DateTimeString", iso.replace("-", ""), format="102")


def _amount(value: Decimal | str) -> str:
    return str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def _category(line: dict[str, Any]) -> str:
    if line.get("tax_category"):
        return str(line["tax_category"])
    return "S" if Decimal(line["tax_rate"]) > 0 else "Z"


def _party(parent: etree._Element, tag: str, party: dict[str, Any]) -> None:
    node = _ram(parent, tag)
    _ram(node, "Name", party.get("legal_name") or party["name"])
    address = _ram(node, "PostalTradeAddress")
    if party.get("postcode"):
        _ram(address, "PostcodeCode", party["postcode"])
    lines = [line for line in party.get("address_lines", []) if line]
    for tag_name, text in zip(("LineOne", "LineTwo", "LineThree"), lines, strict=False):
        _ram(address, tag_name, text)
    if party.get("city"):
        _ram(address, "CityName", party["city"])
    _ram(address, "CountryID", party["country"])
    if party.get("email"):
        uri = _ram(node, "URIUniversalCommunication")
        _ram(uri, "URIID", party["email"], schemeID="EM")
    if party.get("vat_id"):
        registration = _ram(node, "SpecifiedTaxRegistration")
        _ram(registration, "ID", party["vat_id"], schemeID="VA")
    elif party.get("tax_number"):
        registration = _ram(node, "SpecifiedTaxRegistration")
        _ram(registration, "ID", party["tax_number"], schemeID="FC")


def _line_nets(data: dict[str, Any]) -> list[Decimal]:
    """Net amount of each line; for gross prices, split so each rate's nets match the breakdown."""
    lines = data["lines"]
    if not data["document"]["prices_include_tax"]:
        return [Decimal(line["amount"]) for line in lines]
    nets = [
        (Decimal(line["amount"]) * 100 / (100 + Decimal(line["tax_rate"]))).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
        for line in lines
    ]
    for row in data["tax_breakdown"]:
        members = [
            index
            for index, line in enumerate(lines)
            if Decimal(line["tax_rate"]) == Decimal(row["rate"])
            and _category(line) == row["category"]
        ]
        if not members:
            continue
        difference = Decimal(row["net"]) - sum((nets[index] for index in members), Decimal(0))
        largest = max(members, key=lambda index: abs(Decimal(lines[index]["amount"])))
        nets[largest] += difference
    return nets


def facturx_type_code(data: dict[str, Any]) -> str | None:
    """The document's EN 16931 type code (BT-3), or None when it is no e-invoice."""
    head = data["document"]
    if head["type"] == "commission_statement" and head.get("self_billing"):
        return SELF_BILLED
    return TYPE_CODES.get(head["type"])


def facturx_xml_build(data: dict[str, Any]) -> bytes:
    """The EN 16931 CII XML of an invoice, aggregated invoice, credit note or self-billing
    credit note (approved commission statement), as UTF-8 bytes."""
    head = data["document"]
    type_code = facturx_type_code(data)
    if type_code is None:
        raise FacturxError(
            f"a {head['type']} is not an e-invoice; only invoices, credit notes and approved "
            "commission statements"
        )
    self_billed = type_code == SELF_BILLED
    currency = head["currency"]
    sections = {section["key"]: section for section in data.get("sections", [])}

    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)
    context = _el(root, RSM, "ExchangedDocumentContext")
    guideline = _ram(context, "GuidelineSpecifiedDocumentContextParameter")
    _ram(guideline, "ID", EN16931_GUIDELINE)

    document = _el(root, RSM, "ExchangedDocument")
    _ram(document, "ID", head["number"])
    _ram(document, "TypeCode", type_code)
    _date(document, "IssueDateTime", head["issue_date"])
    if head.get("notes"):
        note = _ram(document, "IncludedNote")
        _ram(note, "Content", head["notes"])
    if head.get("summary") and head.get("detail_file"):
        # BT-22: where the line detail of a summarised aggregated invoice is (docs/documents.md,
        # "Summary of a large aggregated invoice").
        note = _ram(document, "IncludedNote")
        _ram(
            note,
            "Content",
            document_texts(head["language"])["detail_note"].format(file=head["detail_file"]),
        )

    transaction = _el(root, RSM, "SupplyChainTradeTransaction")
    nets = _line_nets(data)
    for index, (line, net) in enumerate(zip(data["lines"], nets, strict=True), start=1):
        item = _ram(transaction, "IncludedSupplyChainTradeLineItem")
        line_document = _ram(item, "AssociatedDocumentLineDocument")
        _ram(line_document, "LineID", str(index))
        section = sections.get(line.get("section", ""))
        # BT-127, one note per line: the sub-customer, and why the amount is not quantity x
        # price (proration, discount) as the PDF says it.
        notes = [
            section["title"] if section is not None else "",
            line_adjustment_text(line.get("adjustment"), data["document"]["language"]),
        ]
        if any(notes):
            line_note = _ram(line_document, "IncludedNote")
            _ram(line_note, "Content", " · ".join(n for n in notes if n))
        product = _ram(item, "SpecifiedTradeProduct")
        _ram(product, "Name", line["description"])
        quantity = Decimal(line["quantity"])
        agreement = _ram(item, "SpecifiedLineTradeAgreement")
        net_price = _ram(agreement, "NetPriceProductTradePrice")
        # BR-27: the net price is never negative; a negative line has a negative quantity.
        unit_net = net / quantity if quantity else Decimal(0)
        _ram(net_price, "ChargeAmount", str(abs(unit_net).quantize(Decimal("0.0001"))))
        delivery = _ram(item, "SpecifiedLineTradeDelivery")
        billed = quantity if unit_net >= 0 else -quantity
        _ram(delivery, "BilledQuantity", str(billed), unitCode=line.get("unit", "C62"))
        settlement = _ram(item, "SpecifiedLineTradeSettlement")
        tax = _ram(settlement, "ApplicableTradeTax")
        _ram(tax, "TypeCode", "VAT")
        _ram(tax, "CategoryCode", _category(line))
        _ram(tax, "RateApplicablePercent", str(Decimal(line["tax_rate"])))
        if line.get("period_start") and line.get("period_end"):
            period = _ram(settlement, "BillingSpecifiedPeriod")
            _date(period, "StartDateTime", line["period_start"])
            _date(period, "EndDateTime", line["period_end"])
        summation = _ram(settlement, "SpecifiedTradeSettlementLineMonetarySummation")
        _ram(summation, "LineTotalAmount", _amount(net))

    agreement = _ram(transaction, "ApplicableHeaderTradeAgreement")
    if data["recipient"].get("customer_reference") and not self_billed:
        _ram(agreement, "BuyerReference", data["recipient"]["customer_reference"])
    # Self-billed: the document's recipient (the partner) supplied the service and is the
    # seller; its issuer (the operator) is the buyer.
    seller, buyer = (
        (data["recipient"], data["issuer"]) if self_billed else (data["issuer"], data["recipient"])
    )
    if data["tax_breakdown"] and all(row["category"] == "O" for row in data["tax_breakdown"]):
        # BR-O-02: a document "not subject to VAT" names no VAT identifier.
        seller, buyer = ({**seller, "vat_id": ""}, {**buyer, "vat_id": ""})
    _party(agreement, "SellerTradeParty", seller)
    _party(agreement, "BuyerTradeParty", buyer)

    delivery = _ram(transaction, "ApplicableHeaderTradeDelivery")
    if head.get("period_end") or head.get("issue_date"):
        event = _ram(delivery, "ActualDeliverySupplyChainEvent")
        _date(event, "OccurrenceDateTime", head.get("period_end") or head["issue_date"])

    settlement = _ram(transaction, "ApplicableHeaderTradeSettlement")
    debit = head.get("direct_debit") if head["type"] in ("invoice", "aggregated_invoice") else None
    if debit:
        _ram(settlement, "CreditorReferenceID", debit["creditor_id"])  # BT-90
    _ram(settlement, "PaymentReference", head.get("payment_reference") or head["number"])
    _ram(settlement, "InvoiceCurrencyCode", currency)
    issuer = data["issuer"]
    if debit:
        means = _ram(settlement, "SpecifiedTradeSettlementPaymentMeans")
        _ram(means, "TypeCode", "59")  # SEPA direct debit
    elif self_billed and data["recipient"].get("iban"):
        # The operator pays the commission to the partner's account.
        means = _ram(settlement, "SpecifiedTradeSettlementPaymentMeans")
        _ram(means, "TypeCode", "58")
        account = _ram(means, "PayeePartyCreditorFinancialAccount")
        _ram(account, "IBANID", data["recipient"]["iban"].replace(" ", ""))
    elif issuer.get("iban") and head["type"] in ("invoice", "aggregated_invoice"):
        means = _ram(settlement, "SpecifiedTradeSettlementPaymentMeans")
        _ram(means, "TypeCode", "58")  # SEPA credit transfer
        account = _ram(means, "PayeePartyCreditorFinancialAccount")
        _ram(account, "IBANID", issuer["iban"].replace(" ", ""))
        if issuer.get("bic"):
            institution = _ram(means, "PayeeSpecifiedCreditorFinancialInstitution")
            _ram(institution, "BICID", issuer["bic"])
    for row in data["tax_breakdown"]:
        tax = _ram(settlement, "ApplicableTradeTax")
        _ram(tax, "CalculatedAmount", _amount(row["tax"]))
        _ram(tax, "TypeCode", "VAT")
        if row.get("exemption_reason"):
            _ram(tax, "ExemptionReason", row["exemption_reason"])
        _ram(tax, "BasisAmount", _amount(row["net"]))
        _ram(tax, "CategoryCode", row["category"])
        _ram(tax, "RateApplicablePercent", str(Decimal(row["rate"])))
    if head.get("period_start") and head.get("period_end"):
        period = _ram(settlement, "BillingSpecifiedPeriod")
        _date(period, "StartDateTime", head["period_start"])
        _date(period, "EndDateTime", head["period_end"])
    if head.get("due_date") or debit:
        terms = _ram(settlement, "SpecifiedTradePaymentTerms")
        if head.get("due_date"):
            _date(terms, "DueDateDateTime", head["due_date"])
        if debit:
            _ram(terms, "DirectDebitMandateID", debit["mandate_reference"])  # BT-89
    totals = data["totals"]
    summation = _ram(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _ram(summation, "LineTotalAmount", _amount(sum(nets, Decimal(0))))
    _ram(summation, "TaxBasisTotalAmount", _amount(totals["net"]))
    _ram(summation, "TaxTotalAmount", _amount(totals["tax"]), currencyID=currency)
    _ram(summation, "GrandTotalAmount", _amount(totals["total"]))
    _ram(summation, "TotalPrepaidAmount", _amount(totals["paid"]))
    _ram(summation, "DuePayableAmount", _amount(totals["due"]))
    if head["type"] == "credit_note" and head.get("original_number"):
        referenced = _ram(settlement, "InvoiceReferencedDocument")
        _ram(referenced, "IssuerAssignedID", head["original_number"])
        if head.get("original_issue_date"):
            _date(referenced, "FormattedIssueDateTime", head["original_issue_date"], ns=QDT)

    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def facturx_xml_check(xml: bytes) -> None:
    """Raise FacturxError unless the XML is valid against the Factur-X EN 16931 XSD."""
    from facturx import xml_check_xsd

    try:
        xml_check_xsd(xml, flavor="factur-x", level="en16931")
    except Exception as exc:  # the library raises bare Exception
        raise FacturxError(str(exc)) from exc


def facturx_pdf_embed(pdf: bytes, xml: bytes, *, language: str = "de") -> bytes:
    """The PDF with the XML attached as factur-x.xml (Factur-X PDF/A-3 metadata, XSD-checked)."""
    from facturx import generate_from_binary

    result = generate_from_binary(
        pdf,
        xml,
        flavor="factur-x",
        level="en16931",
        check_xsd=True,
        lang=language,
    )
    return bytes(result)


# --- Factur-X XMP for a PDF/A-3 written by Typst -----------------------------------------------

_FX_PROPERTIES = (
    ("DocumentFileName", "The name of the embedded XML document"),
    ("DocumentType", "The type of the hybrid document in capital letters, e.g. INVOICE or ORDER"),
    ("Version", "The actual version of the standard applying to the embedded XML document"),
    ("ConformanceLevel", "The conformance level of the embedded XML document"),
)
# The Factur-X extension schema, one more entry of the packet's pdfaExtension:schemas bag (an
# XMP property appears once, so a second bag would make the packet invalid for PDF/A).
_FX_SCHEMA = (
    '<rdf:li rdf:parseType="Resource">'
    "<pdfaSchema:schema>Factur-X PDFA Extension Schema</pdfaSchema:schema>"
    f"<pdfaSchema:namespaceURI>{FX_NAMESPACE}</pdfaSchema:namespaceURI>"
    "<pdfaSchema:prefix>fx</pdfaSchema:prefix>"
    "<pdfaSchema:property><rdf:Seq>"
    + "".join(
        '<rdf:li rdf:parseType="Resource">'
        f"<pdfaProperty:name>{name}</pdfaProperty:name>"
        "<pdfaProperty:valueType>Text</pdfaProperty:valueType>"
        "<pdfaProperty:category>external</pdfaProperty:category>"
        f"<pdfaProperty:description>{description}</pdfaProperty:description>"
        "</rdf:li>"
        for name, description in _FX_PROPERTIES
    )
    + "</rdf:Seq></pdfaSchema:property></rdf:li>"
).encode()
_FX_DESCRIPTION = (
    f'<rdf:Description rdf:about="" xmlns:fx="{FX_NAMESPACE}">'
    "<fx:DocumentType>INVOICE</fx:DocumentType>"
    f"<fx:DocumentFileName>{FACTURX_FILENAME}</fx:DocumentFileName>"
    "<fx:Version>1.0</fx:Version>"
    f"<fx:ConformanceLevel>{FX_CONFORMANCE_LEVEL}</fx:ConformanceLevel>"
    "</rdf:Description>"
).encode()
_SCHEMAS_BAG = b"<pdfaExtension:schemas><rdf:Bag>"
_STARTXREF_RE = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_SUBSECTION_RE = re.compile(rb"(\d+) (\d+)[ \t]*\r?\n")
# A subsection's entries, 20 bytes each: offset, generation, in use or free, end of line.
_ENTRIES_RE = re.compile(rb"(?:\d{10} \d{5} [nf][\s\S]{2})*")
_ROOT_RE = re.compile(rb"/Root (\d+) 0 R")
_METADATA_RE = re.compile(rb"/Metadata (\d+) 0 R")
_XMP_HEADER_RE = re.compile(
    rb"(\d+) 0 obj\s*<<\s*/Length (\d+)(?:\s*/Type\s*/Metadata|\s*/Subtype\s*/XML)+\s*>>\s*"
    rb"stream\r?\n"
)


def _xref_table(pdf: bytes) -> tuple[int, dict[int, int], int]:
    """(offset of "xref", {object number: offset}, offset of "trailer") of a PDF with one
    classic cross-reference table listing objects 1 to n, all in use (as Typst writes)."""
    found = _STARTXREF_RE.search(pdf, max(0, len(pdf) - 64))
    if found is None:
        raise FacturxError("the PDF has no startxref")
    start = int(found.group(1))
    if pdf[start : start + 4] != b"xref":
        raise FacturxError("the PDF has no classic cross-reference table")
    position = start + 4
    while pdf[position : position + 1] in (b"\r", b"\n", b" "):
        position += 1
    used: dict[int, int] = {}
    while (section := _SUBSECTION_RE.match(pdf, position)) is not None:
        first, count = int(section.group(1)), int(section.group(2))
        position = section.end()
        # One pass of the regex over the subsection, then the fields by their fixed places
        # (an entry per match was most of this function's time).
        entries = pdf[position : position + 20 * count]
        if len(entries) != 20 * count or _ENTRIES_RE.fullmatch(entries) is None:
            raise FacturxError("malformed cross-reference entry")
        for index, kind in enumerate(entries[17::20]):
            if kind == ord("n"):
                used[first + index] = int(entries[20 * index : 20 * index + 10])
        position += 20 * count
    trailer = pdf.find(b"trailer", position)
    if trailer < 0 or pdf.find(b"/Prev", trailer, found.start()) >= 0:
        raise FacturxError("the PDF has an incremental update")
    if sorted(used) != list(range(1, len(used) + 1)):
        raise FacturxError("the PDF's objects are not numbered 1 to n")
    return start, used, trailer


def facturx_xmp_complete(pdf: bytes) -> bytes:
    """Add the Factur-X properties (fx: DocumentType, DocumentFileName, Version,
    ConformanceLevel) and their PDF/A extension schema to the XMP of a PDF/A-3 written by
    Typst with ``factur-x.xml`` attached.

    Only the metadata object changes; the objects after it move and the cross-reference
    table is rewritten with their new offsets. Raises FacturxError when the PDF is not of that
    shape (no classic cross-reference table, compressed XMP, no attachment, not PDF/A-3).
    """
    xref, offsets, trailer = _xref_table(pdf)
    root = _ROOT_RE.search(pdf, trailer)
    if root is None or int(root.group(1)) not in offsets:
        raise FacturxError("the PDF has no catalog")
    catalog_start = offsets[int(root.group(1))]
    catalog = pdf[catalog_start : pdf.find(b"endobj", catalog_start)]
    metadata = _METADATA_RE.search(catalog)
    if metadata is None or b"/AF" not in catalog or b"(factur-x.xml)" not in catalog:
        raise FacturxError("the PDF has no metadata or no factur-x.xml attachment")
    number = int(metadata.group(1))
    old_start = offsets.get(number, -1)
    header = _XMP_HEADER_RE.match(pdf, old_start) if old_start >= 0 else None
    if header is None or int(header.group(1)) != number:
        raise FacturxError("the PDF's XMP is not an uncompressed metadata stream")
    body_start = header.end()
    body_end = body_start + int(header.group(2))
    old_end = pdf.find(b"endobj", body_end) + len(b"endobj")
    xmp = pdf[body_start:body_end]
    if b"<pdfaid:part>3</pdfaid:part>" not in xmp or xmp.count(_SCHEMAS_BAG) != 1:
        raise FacturxError("the PDF is not PDF/A-3 or its XMP has no extension schemas")
    if b"xmlns:fx=" in xmp:
        raise FacturxError("the PDF has Factur-X metadata already")
    bag = xmp.index(_SCHEMAS_BAG) + len(_SCHEMAS_BAG)
    end_rdf = xmp.rindex(b"</rdf:RDF>")
    xmp = xmp[:bag] + _FX_SCHEMA + xmp[bag:end_rdf] + _FX_DESCRIPTION + xmp[end_rdf:]
    new_object = (
        b"%d 0 obj\n<</Length %d/Type/Metadata/Subtype/XML>>\nstream\n%b\nendstream\nendobj"
        % (number, len(xmp), xmp)
    )
    delta = len(new_object) - (old_end - old_start)
    if xref < old_end:
        raise FacturxError("the cross-reference table precedes the metadata")

    def moved(offset: int) -> int:
        return offset + delta if offset > old_start else offset

    table = [b"xref\n0 %d\n0000000000 65535 f\r\n" % (len(offsets) + 1)]
    table.extend(b"%010d 00000 n\r\n" % moved(offsets[n]) for n in range(1, len(offsets) + 1))
    startxref = pdf.rindex(b"startxref")
    return b"".join(
        (
            pdf[:old_start],
            new_object,
            pdf[old_end:xref],
            *table,
            pdf[trailer:startxref],
            b"startxref\n%d\n%%%%EOF\n" % (xref + delta),
        )
    )
