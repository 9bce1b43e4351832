"""Celery tasks of invoicing: thin wrappers that open the background scope and call one
service. Safe to retry: a document that has a stored PDF is skipped, an email that is no
longer queued is not sent again."""

from __future__ import annotations

import smtplib
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
# What opening the connection to the mail server may raise (the send then records it).
EMAIL_CONNECT_ERRORS = (OSError, smtplib.SMTPException)


def email_retry_countdown(retries: int) -> int:
    """Seconds before retry number ``retries + 1``: 1, 2, 4, 8, 16 minutes."""
    return 60 * 2**retries


# Deliveries per sending task, sent over one connection to the mail server.
EMAIL_TASK_SIZE = 50


@shared_task(bind=True, acks_late=True)
def email_deliveries_send_task(self: Any, delivery_ids: list[int]) -> dict[str, int]:
    """Send recorded emails over one connection to the mail server (one SMTP session for
    the batch, not one per message). A delivery that meets a transport error is handed to
    ``email_delivery_send_task``, which retries it alone with the growing delay, counting
    this attempt; the connection is opened again for the next one. Without a broker (the
    task runs in the request) that one attempt is all: the delivery is failed, to send
    again from the E-mails page (docs/documents.md, "Email delivery"). Safe to run twice:
    a sent one is skipped."""
    return _deliveries_send(delivery_ids, eager=bool(self.request.is_eager))


@shared_task(bind=True, acks_late=True)
def invoices_deliver_task(self: Any, invoice_ids: list[int]) -> dict[str, int]:
    """The issued invoices of an issuer that e-mails them on issue: their PDFs rendered and
    stored together (those without one yet), then one e-mail each recorded and sent over one
    connection to the mail server (docs/documents.md, "Invoices e-mailed on issue"). Safe to
    run twice: a stored PDF is kept, a recorded e-mail is not recorded again, a sent one is
    not sent again."""
    from ispbill.invoicing.sending import invoices_issued_email_record

    with system_scope():
        stats = invoices_pdf_render(invoice_ids=invoice_ids)
        delivery_ids = invoices_issued_email_record(invoice_ids)
    counts = _deliveries_send(delivery_ids, eager=bool(self.request.is_eager))
    counts["pdfs_rendered"] = stats.rendered
    return counts


def issued_invoices_deliver_on_commit(invoices: Iterable[tuple[int, bool]]) -> None:
    """After the issuing transaction commits, the PDFs of the new invoices, and for those
    ``(id, True)`` (their issuer e-mails invoices on issue and the customer has an address)
    the e-mail with it, in tasks of ``EMAIL_TASK_SIZE`` that render, record and send
    together. ``EMAIL_INVOICES_ON_ISSUE`` off: PDFs only."""
    pairs = list(invoices)
    emailing = bool(getattr(settings, "EMAIL_INVOICES_ON_ISSUE", True))
    emailed = [int(pk) for pk, email in pairs if email and emailing]
    chosen = set(emailed)
    issued_pdfs_render_on_commit(invoice_ids=[int(pk) for pk, _ in pairs if pk not in chosen])
    if not emailed:
        return

    def dispatch() -> None:
        for i in range(0, len(emailed), EMAIL_TASK_SIZE):
            invoices_deliver_task.delay(emailed[i : i + EMAIL_TASK_SIZE])

    transaction.on_commit(dispatch, robust=True)


def _deliveries_send(delivery_ids: list[int], *, eager: bool = False) -> dict[str, int]:
    """``email_deliveries_send_task``'s work: the deliveries over one SMTP connection.
    ``eager`` (no broker: in the caller's process, a request's): one attempt each, a
    transport error leaves the delivery failed rather than retried at once."""
    from django.core.mail import get_connection

    from ispbill.invoicing.sending import (
        EmailOutcome,
        email_deliveries_for_send,
        email_delivery_send,
    )

    counts: dict[str, int] = {}
    with system_scope():
        rows = email_deliveries_for_send(delivery_ids)  # the batch's, read together
    connection = get_connection()
    try:
        for pk in delivery_ids:
            if pk not in rows:  # sent, failed or gone since it was queued
                counts[EmailOutcome.SKIPPED] = counts.get(EmailOutcome.SKIPPED, 0) + 1
                continue
            try:
                connection.open()
            except EMAIL_CONNECT_ERRORS:
                connection.close()  # this delivery's own attempt reports the error
            with system_scope():
                outcome = email_delivery_send(
                    delivery_id=pk, connection=connection, delivery=rows[pk], final=eager
                )
            if outcome == EmailOutcome.RETRY:
                connection.close()
                email_delivery_send_task.apply_async(
                    (pk,), countdown=email_retry_countdown(0), retries=1
                )
            counts[outcome] = counts.get(outcome, 0) + 1
    finally:
        connection.close()
    return counts


@shared_task(bind=True, acks_late=True, max_retries=EMAIL_MAX_RETRIES)
def email_delivery_send_task(self: Any, delivery_id: int) -> str:
    """Send one recorded email; a transport error is retried with a growing delay, and the
    last attempt leaves the delivery failed. Without a broker (eager: the task runs in the
    caller's process, a request's) there is no later to retry in: one attempt, and a
    transport error leaves it failed, to send again from the E-mails page. Safe to run
    twice: a sent one is skipped."""
    from ispbill.invoicing.sending import EmailOutcome, email_delivery_send

    retries = int(self.request.retries or 0)
    eager = bool(self.request.is_eager)
    with system_scope():
        outcome = email_delivery_send(
            delivery_id=delivery_id, final=eager or retries >= EMAIL_MAX_RETRIES
        )
    if outcome == EmailOutcome.RETRY:
        raise self.retry(countdown=email_retry_countdown(retries))
    return outcome
