"""Celery tasks of invoicing: thin wrappers that open the background scope and call one
service. Safe to retry: a document that has a stored PDF is skipped."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from ispbill.core.tenancy import system_scope


@shared_task(acks_late=True, max_retries=3)
def invoices_pdf_render_task(invoice_ids: list[int]) -> dict[str, Any]:
    from ispbill.invoicing.pdfs import invoices_pdf_render

    with system_scope():
        stats = invoices_pdf_render(invoice_ids=invoice_ids)
    return {"rendered": stats.rendered, "failed": stats.failed}


@shared_task(acks_late=True, max_retries=3)
def credit_notes_pdf_render_task(credit_note_ids: list[int]) -> dict[str, Any]:
    from ispbill.invoicing.pdfs import credit_notes_pdf_render

    with system_scope():
        stats = credit_notes_pdf_render(credit_note_ids=credit_note_ids)
    return {"rendered": stats.rendered, "failed": stats.failed}
