"""Celery tasks of invoicing: thin wrappers that open the background scope and call one
service. Safe to retry: a document that has a stored PDF is skipped, an email that is no
longer queued is not sent again."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction

from ispbill.core.tenancy import system_scope
from ispbill.invoicing.pdfs import credit_notes_pdf_render, invoices_pdf_render


@shared_task(acks_late=True, max_retries=3)
def invoices_pdf_render_task(invoice_ids: list[int]) -> dict[str, Any]:
    with system_scope():
        stats = invoices_pdf_render(invoice_ids=invoice_ids)
    return {"rendered": stats.rendered, "failed": stats.failed}


@shared_task(acks_late=True, max_retries=3)
def credit_notes_pdf_render_task(credit_note_ids: list[int]) -> dict[str, Any]:
    with system_scope():
        stats = credit_notes_pdf_render(credit_note_ids=credit_note_ids)
    return {"rendered": stats.rendered, "failed": stats.failed}


# Invoices per PDF task: about a second of rendering per worker process.
PDF_TASK_SIZE = 100


def issued_pdfs_render_on_commit(
    *, invoice_ids: Iterable[int] = (), credit_note_ids: Iterable[int] = ()
) -> None:
    """After the issuing transaction commits, render the new documents' PDFs in a task.

    Off when ``RENDER_PDFS_ON_ISSUE`` is false (``ispbill render-pdfs`` catches up). A render
    failure after commit is logged and leaves the document without a PDF to retry later; it
    never undoes the issue."""
    if not getattr(settings, "RENDER_PDFS_ON_ISSUE", True):
        return
    invoices = [int(pk) for pk in invoice_ids]
    credit_notes = [int(pk) for pk in credit_note_ids]
    if not invoices and not credit_notes:
        return

    def dispatch() -> None:
        # In tasks of PDF_TASK_SIZE: the workers share a chunk's PDFs, and a billing run's
        # chunks and aggregations, polled in turn with these tasks, wait behind one short
        # task at most (docs/performance.md, "PDFs and e-mails").
        for i in range(0, len(invoices), PDF_TASK_SIZE):
            invoices_pdf_render_task.delay(invoices[i : i + PDF_TASK_SIZE])
        if credit_notes:
            credit_notes_pdf_render_task.delay(credit_notes)

    transaction.on_commit(dispatch, robust=True)


EMAIL_MAX_RETRIES = 5


def email_retry_countdown(retries: int) -> int:
    """Seconds before retry number ``retries + 1``: 1, 2, 4, 8, 16 minutes."""
    return 60 * 2**retries


@shared_task(bind=True, acks_late=True, max_retries=EMAIL_MAX_RETRIES)
def email_delivery_send_task(self: Any, delivery_id: int) -> str:
    """Send one recorded email; a transport error is retried with a growing delay, and the
    last attempt leaves the delivery failed. Safe to run twice: a sent one is skipped."""
    from ispbill.invoicing.sending import EmailOutcome, email_delivery_send

    retries = int(self.request.retries or 0)
    while True:
        with system_scope():
            outcome = email_delivery_send(
                delivery_id=delivery_id, final=retries >= EMAIL_MAX_RETRIES
            )
        if outcome != EmailOutcome.RETRY:
            return outcome
        if not self.request.is_eager:
            raise self.retry(countdown=email_retry_countdown(retries))
        # Eager Celery (no broker) hands Retry to the caller instead of running the task
        # again: the attempts follow one another here, without the delay.
        retries += 1
