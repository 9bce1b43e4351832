from __future__ import annotations

import copy
import io

import pytest
import segno

from ispbill.documents import data as D
from ispbill.documents.data import DocumentDataError
from ispbill.documents.render import (
    document_pdf_render,
    document_pdf_render_many,
    document_template_default,
    document_template_input,
    document_template_validate,
)
from tests.documents.conftest import pdf_text


def _png() -> bytes:
    buffer = io.BytesIO()
    segno.make("MusterNet").save(buffer, kind="png", scale=4)
    return buffer.getvalue()


@pytest.mark.parametrize("document_type", sorted(D.SAMPLES))
@pytest.mark.parametrize("language", ["de", "en"])
def test_every_sample_renders_a_pdf(document_type: str, language: str) -> None:
    data = D.document_sample(document_type=document_type, language=language)  # type: ignore[arg-type]
    pdf = document_pdf_render(data=data)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert data["document"]["number"] in text


def test_german_invoice_shows_number_totals_vat_and_texts() -> None:
    text = pdf_text(document_pdf_render(data=D.sample_invoice(language="de")))
    for expected in (
        "Rechnung 202501000123",
        "Summe netto",
        "97,12 €",
        "USt. 19 % auf 97,12 €",
        "18,45 €",
        "Gesamtbetrag",
        "115,57 €",
        "Zu zahlen",
        "Fällig am",
        "15.03.2025",
        "01.03.2025 – 31.03.2025",
        "DE89370400440532013000",
        "USt-IdNr.",
        "DE123456789",
        "Bankverbindung",
        "Anna Schmidt",
    ):
        assert expected in text, expected
    assert "Invoice" not in text


def test_english_invoice_uses_english_texts() -> None:
    text = pdf_text(document_pdf_render(data=D.sample_invoice(language="en")))
    for expected in ("Invoice 202501000123", "Net total", "VAT 19% on €97.12", "€115.57"):
        assert expected in text, expected
    assert "Rechnung" not in text


def test_multi_rate_invoice_lists_each_rate() -> None:
    text = pdf_text(document_pdf_render(data=D.sample_multi_rate_invoice()))
    assert "USt. 19 % auf 49,90 €" in text and "9,48 €" in text
    assert "USt. 7 % auf 13,00 €" in text and "0,91 €" in text
    assert "Umsatzsteuerfrei" in text
    assert "74,24 €" in text


def test_tax_inclusive_invoice_shows_included_vat_and_amount_due() -> None:
    text = pdf_text(document_pdf_render(data=D.sample_invoice_gross()))
    assert "Gesamtbetrag inkl. USt." in text
    assert "Enthaltene USt. 19 % auf netto 29,40 €" in text
    assert "5,59 €" in text
    assert "Bereits bezahlt" in text and "24,99 €" in text


def test_aggregated_invoice_has_a_section_and_subtotal_per_sub_customer() -> None:
    data = D.sample_aggregated_invoice()
    text = pdf_text(document_pdf_render(data=data))
    assert "Sammelrechnung 202507000042" in text
    for section in data["sections"]:
        assert section["title"] in text
    assert text.count("Zwischensumme") == 3
    assert "74,00 €" in text and "121,98 €" in text


def test_credit_note_references_the_invoice_and_has_no_payment_qr() -> None:
    data = D.sample_credit_note()
    text = pdf_text(document_pdf_render(data=data))
    assert "Gutschrift GS-2025-000009" in text
    assert "202501000123" in text
    assert "Gutgeschriebener Betrag" in text and "16,85 €" in text
    assert document_template_input(data)["qr"] is None


def test_statements_render_entries_and_totals() -> None:
    text = pdf_text(document_pdf_render(data=D.sample_commission_statement()))
    assert "Provisionsabrechnung" in text and "12,28 €" in text and "-0,84 €" in text
    text = pdf_text(document_pdf_render(data=D.sample_customer_statement(language="en")))
    assert "Account statement" in text and "-€98.72" in text and "Closing balance" in text


def test_payment_qr_code_only_for_eur_with_iban_and_amount_due() -> None:
    data = D.sample_invoice()
    assert document_template_input(data)["qr"] == "qr.png"
    no_iban = copy.deepcopy(data)
    no_iban["issuer"]["iban"] = ""
    assert document_template_input(no_iban)["qr"] is None
    chf = copy.deepcopy(data)
    chf["document"]["currency"] = "CHF"
    assert document_template_input(chf)["qr"] is None
    paid = copy.deepcopy(data)
    paid["totals"]["paid"], paid["totals"]["due"] = "115.57", "0.00"
    assert document_template_input(paid)["qr"] is None
    # Without IBAN the document still renders, with no bank box.
    text = pdf_text(document_pdf_render(data=no_iban))
    assert "Bankverbindung" not in text


def test_pdf_with_qr_code_embeds_an_image() -> None:
    with_qr = document_pdf_render(data=D.sample_invoice())
    data = D.sample_invoice()
    data["issuer"]["iban"] = ""
    without = document_pdf_render(data=data)
    assert b"/Subtype /Image" in with_qr or len(with_qr) > len(without)


def test_logo_asset_is_used() -> None:
    data = D.sample_invoice()
    data["issuer"]["logo"] = "logo.png"
    pdf = document_pdf_render(data=data, assets={"logo.png": _png()})
    assert pdf.startswith(b"%PDF")
    plain = document_pdf_render(data=D.sample_invoice())
    # The logo replaces the large name heading.
    assert pdf_text(pdf).count("MusterNet") == pdf_text(plain).count("MusterNet") - 1


def test_rendering_is_deterministic() -> None:
    assert document_pdf_render(data=D.sample_invoice()) == document_pdf_render(
        data=D.sample_invoice()
    )


def test_batch_renders_each_document_in_order() -> None:
    documents = []
    for index in range(5):
        data = D.sample_invoice()
        data["document"]["number"] = f"2025010001{index:02d}"
        documents.append(data)
    pdfs = list(document_pdf_render_many(documents=documents))
    assert len(pdfs) == 5
    for index, pdf in enumerate(pdfs):
        assert f"2025010001{index:02d}" in pdf_text(pdf)


def test_default_templates_validate() -> None:
    for document_type in D.SAMPLES:
        document_template_validate(
            document_template_default(document_type), document_type=document_type
        )


def test_a_custom_template_gets_the_data() -> None:
    source = '#let d = json("data.json")\nCustom #d.document.number: #d.totals.fmt.due'
    text = pdf_text(document_pdf_render(data=D.sample_invoice(), template_source=source))
    assert "Custom 202501000123: 115,57 €" in text


def test_float_money_is_refused_before_rendering() -> None:
    data = D.sample_invoice()
    data["totals"]["due"] = 115.57  # type: ignore[typeddict-item]
    with pytest.raises(DocumentDataError, match=r"totals\.due"):
        document_pdf_render(data=data)  # type: ignore[arg-type]


def test_page_numbers_only_on_invoices_long_enough_for_more_pages() -> None:
    # "Page x of y" costs Typst a second layout pass, so a short invoice goes without.
    assert "Seite" not in pdf_text(document_pdf_render(data=D.sample_invoice(language="de")))
    data = D.sample_invoice(language="en")
    data["lines"] = data["lines"] * 10
    text = pdf_text(document_pdf_render(data=data))
    assert "Page 1 of 3" in text and "Page 3 of 3" in text
