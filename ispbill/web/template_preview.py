"""Previews of a template being edited: on the sample document or on one of the issuer's
own real documents (never another issuer's: every lookup is filtered by the issuer)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import date
from pathlib import Path
from typing import Any, Literal

from django.utils import timezone

from ispbill.commission.statements import commission_statement_document_data
from ispbill.core.errors import DomainError
from ispbill.customers.models import Customer
from ispbill.documents.data import document_sample
from ispbill.documents.render import document_pdf_render
from ispbill.invoicing.documents import credit_note_document_data, invoice_document_data
from ispbill.invoicing.emails import (
    EmailMessageText,
    email_render,
    email_sample_context,
    invoice_email_context,
    reminder_email_context,
)
from ispbill.invoicing.models import (
    EMAIL_TEMPLATE_TYPES,
    SECTIONED_KINDS,
    CreditNote,
    Invoice,
    TemplateType,
)
from ispbill.invoicing.templates import issuer_assets, issuer_data_with_logo
from ispbill.partners.models import CommissionStatement, Partner
from ispbill.payments.documents import receipt_document_data
from ispbill.payments.models import Payment
from ispbill.payments.selectors import customer_statement, customer_statement_document_data

__all__ = [
    "PreviewError",
    "template_document_choices",
    "template_document_data",
    "template_preview_email",
    "template_preview_pdf",
    "template_preview_png",
]

CHOICES_SHOWN = 20


class PreviewError(DomainError):
    """The preview cannot be made (unknown document, no converter); the message says why."""

    code = "preview"


def _invoices(issuer: Partner, document_type: str) -> Any:
    qs = Invoice.objects.filter(issuer_id=issuer.pk)
    # Aggregated and wholesale invoices print with the aggregated invoice's template.
    if document_type == TemplateType.AGGREGATED_INVOICE:
        return qs.filter(kind__in=SECTIONED_KINDS)
    if document_type == TemplateType.INVOICE:
        return qs.exclude(kind__in=SECTIONED_KINDS)
    return qs


def template_document_choices(issuer: Partner, document_type: str) -> list[tuple[str, str]]:
    """(value, label) of the issuer's recent real documents of a type, newest first."""
    if document_type in (
        TemplateType.INVOICE,
        TemplateType.AGGREGATED_INVOICE,
        *EMAIL_TEMPLATE_TYPES,
    ):
        rows = _invoices(issuer, document_type).order_by("-issue_date", "-pk")[:CHOICES_SHOWN]
        return [(str(i.pk), f"{i.number} · {i.customer_snapshot.get('name', '')}") for i in rows]
    if document_type == TemplateType.CREDIT_NOTE:
        notes = CreditNote.objects.filter(issuer_id=issuer.pk).order_by("-issue_date", "-pk")
        return [(str(c.pk), c.number) for c in notes[:CHOICES_SHOWN]]
    if document_type == TemplateType.RECEIPT:
        payments = Payment.objects.filter(issuer_id=issuer.pk).order_by("-date", "-pk")
        return [(str(p.pk), f"{p.date} · {p.reference or p.pk}") for p in payments[:CHOICES_SHOWN]]
    if document_type == TemplateType.COMMISSION_STATEMENT:
        if not issuer.is_home:
            return []
        statements = CommissionStatement.objects.select_related("partner").order_by(
            "-period_start", "-pk"
        )
        return [
            (str(s.pk), f"{s.partner.name} · {s.period_start:%Y-%m}")
            for s in statements[:CHOICES_SHOWN]
        ]
    if document_type == TemplateType.CUSTOMER_STATEMENT:
        customers = (
            Customer.objects.filter(invoices__issuer_id=issuer.pk).distinct().order_by("-pk")
        )
        return [(str(c.pk), f"{c.reference} · {c.name}") for c in customers[:CHOICES_SHOWN]]
    return []


def _object_id(choice: str) -> int | None:
    if not choice or choice == "sample":
        return None
    if not choice.isdigit():
        raise PreviewError("Choose the sample or one of the listed documents.")
    return int(choice)


def template_document_data(
    issuer: Partner, document_type: str, choice: str
) -> dict[str, Any] | None:
    """The document data of the issuer's real document ``choice`` (an id), None for the
    sample. Raises PreviewError when it is not one of this issuer's documents."""
    pk = _object_id(choice)
    if pk is None or document_type in EMAIL_TEMPLATE_TYPES:
        return None
    missing = PreviewError("That document is not one of this issuer's; choose another.")
    if document_type in (TemplateType.INVOICE, TemplateType.AGGREGATED_INVOICE):
        invoice = _invoices(issuer, document_type).filter(pk=pk).first()
        if invoice is None:
            raise missing
        return invoice_document_data(invoice)
    if document_type == TemplateType.CREDIT_NOTE:
        note = CreditNote.objects.filter(issuer_id=issuer.pk, pk=pk).first()
        if note is None:
            raise missing
        return credit_note_document_data(note)
    if document_type == TemplateType.RECEIPT:
        payment = Payment.objects.filter(issuer_id=issuer.pk, pk=pk).first()
        if payment is None:
            raise missing
        return receipt_document_data(payment)
    if document_type == TemplateType.COMMISSION_STATEMENT:
        statement = CommissionStatement.objects.filter(pk=pk).first() if issuer.is_home else None
        if statement is None:
            raise missing
        return commission_statement_document_data(statement)
    if document_type == TemplateType.CUSTOMER_STATEMENT:
        customer = Customer.objects.filter(invoices__issuer_id=issuer.pk, pk=pk).first()
        if customer is None:
            raise missing
        today = timezone.localdate()
        return customer_statement_document_data(
            customer_statement(customer, start=date(today.year, 1, 1), end=today)
        )
    raise missing


def template_preview_pdf(
    *, issuer: Partner, document_type: str, source: str, choice: str, language: str = "de"
) -> bytes:
    """The PDF the posted template makes of the sample (in ``language``) or of a real
    document; raises DocumentTemplateError with the line of a broken template."""
    data = template_document_data(issuer, document_type, choice)
    if data is None:
        lang: Literal["en", "de"] = "en" if language == "en" else "de"
        data = document_sample(document_type=document_type, language=lang)
    assets = issuer_assets(issuer)
    return document_pdf_render(
        data=issuer_data_with_logo(data, assets), template_source=source, assets=assets
    )


def pdf_first_page_png(pdf: bytes, *, dpi: int = 80) -> bytes:
    """Page one of a PDF as PNG (poppler's pdftoppm)."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        raise PreviewError("PNG previews need pdftoppm (poppler-utils); open the PDF instead.")
    with tempfile.TemporaryDirectory(prefix="ispbill-preview-") as tmp:
        src = Path(tmp) / "in.pdf"
        src.write_bytes(pdf)
        subprocess.run(
            [
                tool,
                "-png",
                "-r",
                str(dpi),
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(src),
                str(Path(tmp) / "page"),
            ],
            check=True,
            timeout=30,
            capture_output=True,
        )
        return (Path(tmp) / "page.png").read_bytes()


def template_preview_png(
    *, issuer: Partner, document_type: str, source: str, choice: str, language: str = "de"
) -> bytes:
    return pdf_first_page_png(
        template_preview_pdf(
            issuer=issuer,
            document_type=document_type,
            source=source,
            choice=choice,
            language=language,
        )
    )


def template_preview_email(
    *, issuer: Partner, document_type: str, source: str, choice: str, language: str = "de"
) -> EmailMessageText:
    """The email the posted template makes for the sample or one of the issuer's invoices."""
    pk = _object_id(choice)
    if pk is None:
        lang = "en" if language == "en" else "de"
        return email_render(
            source, email_sample_context(document_type=document_type, language=lang)
        )
    invoice = _invoices(issuer, document_type).filter(pk=pk).select_related("customer").first()
    if invoice is None:
        raise PreviewError("That invoice is not one of this issuer's; choose another.")
    if document_type == TemplateType.EMAIL_REMINDER:
        days = max(0, (timezone.localdate() - invoice.due_date).days)
        context = reminder_email_context(
            invoice, customer=invoice.customer, issuer=issuer, days_late=days
        )
    else:
        context = invoice_email_context(invoice)
    return email_render(source, context)
