"""Sending emails: issued invoices with their PDF attached, and payment reminders.

Every email is first recorded as an ``EmailDelivery`` (the send log) inside the transaction
that decides to send it, under a unique idempotency key; after commit a Celery task sends it
through Django's email backend (``ispbill.invoicing.tasks.email_delivery_send_task``). The
task locks the row and skips a delivery that is no longer queued, so a task run twice, a
dunning run repeated, or a retry racing a worker never sends a message twice. Transport
failures (SMTP errors, refused connections) are recorded and retried with a growing delay;
after the last attempt the delivery is ``failed`` until ``email_delivery_retry`` queues it
again (``ispbill emails --retry-failed``)."""

from __future__ import annotations

import functools
import logging
import secrets
import smtplib
from collections.abc import Iterable
from email.generator import BytesGenerator
from email.message import Message
from email.utils import parseaddr
from io import BytesIO
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.mail.message import make_msgid
from django.core.mail.utils import DNS_NAME
from django.core.validators import validate_email
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from ispbill.core.audit import audit_record
from ispbill.core.errors import DomainValidationError
from ispbill.invoicing.detail import invoice_detail_attachment, invoice_pdf_is_summary
from ispbill.invoicing.documents import invoice_document_data
from ispbill.invoicing.emails import (
    EmailMessageText,
    EmailTemplateError,
    invoice_email_context,
)
from ispbill.invoicing.models import EmailDelivery, EmailKind, EmailStatus, Invoice
from ispbill.invoicing.pdfs import (
    invoices_pdf_render,
    issuer_document_pdf_degrading,
    stored_pdf_read,
)
from ispbill.invoicing.selectors import email_deliveries_stale
from ispbill.invoicing.templates import issuer_email_render
from ispbill.partners.brand import issuer_brand
from ispbill.partners.models import Partner

__all__ = [
    "EMAIL_RETRYABLE_ERRORS",
    "EmailEnvelope",
    "EmailOutcome",
    "billing_run_documents",
    "email_deliveries_for_send",
    "email_deliveries_queue",
    "email_deliveries_send_queued",
    "email_delivery_counts",
    "email_delivery_new",
    "email_delivery_queue",
    "email_delivery_retry",
    "email_delivery_send",
    "invoice_pdf",
    "invoice_send",
    "invoices_issued_email_record",
    "issuer_email_envelope",
]

log = logging.getLogger(__name__)

# Errors of the transport that may pass: the server busy or down, a refused recipient that
# an administrator fixes. They are retried; anything else fails the delivery at once.
EMAIL_RETRYABLE_ERRORS: tuple[type[Exception], ...] = (smtplib.SMTPException, OSError)
_MAX_ERROR_CHARS = 2000
_MAX_SUBJECT_CHARS = 998


class EmailOutcome:
    """What one sending attempt did."""

    SENT = "sent"
    SKIPPED = "skipped"  # already sent or failed, or gone: nothing done
    RETRY = "retry"  # a transport error; the caller tries again later
    FAILED = "failed"


class EmailEnvelope:
    """What the issuer's brand puts around an email: the From (its sender name), the
    Reply-To (its support address) and the contact footer below the body."""

    __slots__ = ("footer", "from_email", "reply_to")

    def __init__(self, from_email: str, reply_to: str, footer: str) -> None:
        self.from_email = from_email
        self.reply_to = reply_to
        self.footer = footer

    def body(self, text: str) -> str:
        """``text`` with the contact footer (the usual "-- " signature separator)."""
        if not self.footer:
            return text
        return text.rstrip("\n") + "\n\n-- \n" + self.footer + "\n"


def _quoted(name: str) -> str:
    # One line, quoted as RFC 5322 wants a display name with commas or dots.
    name = " ".join(name.split())
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def issuer_email_envelope(issuer: Partner, *, address: str = "") -> EmailEnvelope:
    """The envelope of an email the issuer sends: From ``"<sender name>" <address>``
    (``address``, else the issuer's e-mail, else DEFAULT_FROM_EMAIL), Reply-To the brand's
    address, and the brand's contact lines as footer."""
    brand = issuer_brand(issuer)
    sender = (address or issuer.email or "").strip()
    sender = sender or parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL
    from_email = f"{_quoted(brand.sender_name)} <{sender}>" if brand.sender_name else sender
    if len(from_email) > 300:  # the field's size: a very long name gives way to the address
        from_email = sender
    return EmailEnvelope(from_email, brand.reply_to, "\n".join(brand.contact_lines()))


def invoice_pdf(invoice: Invoice) -> bytes:
    """The stored PDF of the invoice. One not rendered yet (rendering at issue switched off,
    or still queued) is rendered now from its document data, built from the invoice alone,
    with the issuer's template and the Factur-X XML, and stored: later reads return the same
    file."""
    stored = stored_pdf_read(invoice.pdf)
    if stored is not None:
        return stored
    invoices_pdf_render(invoice_ids=[invoice.pk])
    path = Invoice.objects.filter(pk=invoice.pk).values_list("pdf", flat=True).first() or ""
    stored = stored_pdf_read(path)
    if stored is not None:
        return stored
    return issuer_document_pdf_degrading(
        issuer_id=invoice.issuer_id, data=invoice_document_data(invoice), label=invoice.number
    )[0]


def _dispatch_on_commit(delivery_ids: list[int]) -> None:
    """After commit, hand each delivery to the sending task (one callback for them all)."""
    if not delivery_ids:
        return

    def dispatch() -> None:
        from ispbill.invoicing.tasks import EMAIL_TASK_SIZE, email_deliveries_send_task

        # In tasks of EMAIL_TASK_SIZE, each over one connection to the mail server
        # (docs/performance.md, "PDFs and e-mails").
        for i in range(0, len(delivery_ids), EMAIL_TASK_SIZE):
            email_deliveries_send_task.delay(delivery_ids[i : i + EMAIL_TASK_SIZE])

    transaction.on_commit(dispatch)


def email_delivery_new(
    *,
    key: str,
    kind: str,
    partner_id: int,
    issuer_id: int,
    to: str,
    from_email: str,
    subject: str,
    body: str,
    customer_id: int | None = None,
    invoice_id: int | None = None,
    reply_to: str = "",
) -> EmailDelivery:
    """An unsaved delivery for ``email_deliveries_queue``. An empty ``from_email`` sends from
    DEFAULT_FROM_EMAIL (``issuer_email_envelope`` gives the issuer's From and Reply-To)."""
    return EmailDelivery(
        reply_to=reply_to,
        idempotency_key=key,
        kind=kind,
        partner_id=partner_id,
        issuer_id=issuer_id,
        customer_id=customer_id,
        invoice_id=invoice_id,
        to=to,
        from_email=from_email or settings.DEFAULT_FROM_EMAIL,
        subject=" ".join(subject.split())[:_MAX_SUBJECT_CHARS],
        body=body,
        message_id=make_msgid(domain=str(DNS_NAME)),
    )


def email_deliveries_queue(deliveries: list[EmailDelivery]) -> list[EmailDelivery]:
    """Record unsaved deliveries (``email_delivery_new``) in one insert and send them after
    commit. Returns those recorded, in order: one whose idempotency key exists already (sent,
    failed or on its way) is left out and recorded nothing."""
    if not deliveries:
        return []
    EmailDelivery._base_manager.bulk_create(deliveries, ignore_conflicts=True)
    # Ours are those with our fresh Message-IDs; a conflicting key kept the other row.
    ids = dict(
        EmailDelivery._base_manager.filter(
            message_id__in=[d.message_id for d in deliveries]
        ).values_list("message_id", "pk")
    )
    queued = []
    for delivery in deliveries:
        if delivery.message_id in ids:
            delivery.pk = ids[delivery.message_id]
            delivery._state.adding = False
            queued.append(delivery)
    _dispatch_on_commit([d.pk for d in queued])
    return queued


def _invoice_email(
    invoice: Invoice, address: str, envelope: EmailEnvelope, text: EmailMessageText, *, n: int
) -> dict[str, Any]:
    """The fields of the ``n``-th e-mail of ``invoice`` to ``address`` (the first is the one
    sent on issue): ``email_delivery_new``'s arguments."""
    return {
        "key": f"invoice:{invoice.pk}:{address}:{n}",
        "kind": EmailKind.INVOICE,
        "partner_id": invoice.partner_id,
        "issuer_id": invoice.issuer_id,
        "customer_id": invoice.customer_id,
        "invoice_id": invoice.pk,
        "to": address,
        "from_email": envelope.from_email,
        "reply_to": envelope.reply_to,
        "subject": text.subject,
        "body": envelope.body(text.body),
    }


def invoices_issued_email_record(invoice_ids: Iterable[int]) -> list[int]:
    """Record the e-mail of each issued invoice to its customer's address, as an issuer
    with ``email_invoices_on_issue`` sends them once issued (docs/documents.md, "Invoices
    e-mailed on issue"), in one transaction, and return the ids of those still to be sent,
    in invoice order, for the caller to send. The key is the first send's
    (``invoice:<id>:<address>:1``), so recording again (a task run twice) adds nothing and
    returns those still queued; a later send from the invoice's page is the second. An
    invoice whose customer has no valid address is left out (logged)."""
    ids = sorted({int(pk) for pk in invoice_ids})
    if not ids:
        return []
    envelopes: dict[tuple[int, str], EmailEnvelope] = {}
    templates: dict[tuple[int, str], str] = {}
    issuers: dict[int, Partner] = {}
    deliveries: list[EmailDelivery] = []
    with transaction.atomic():
        for invoice in Invoice.objects.filter(pk__in=ids).order_by("pk"):
            address = str(invoice.customer_snapshot.get("email") or "").strip()
            try:
                validate_email(address)
            except ValidationError:
                log.warning("invoice.email_skipped", extra={"invoice_id": invoice.pk})
                continue
            sender = str(invoice.issuer_snapshot.get("email") or "")
            kept = (invoice.issuer_id, sender)
            if kept not in envelopes:
                if invoice.issuer_id not in issuers:
                    issuers[invoice.issuer_id] = Partner.objects.get(pk=invoice.issuer_id)
                envelopes[kept] = issuer_email_envelope(issuers[invoice.issuer_id], address=sender)
            envelope = envelopes[kept]
            try:
                text = issuer_email_render(
                    invoice.issuer_id,
                    "email_invoice",
                    invoice_email_context(invoice),
                    templates=templates,
                )
            except EmailTemplateError:
                # Neither the issuer's template nor the default made this e-mail: the others
                # still go; this invoice can be sent from its page once the cause is fixed.
                log.exception("invoice.email_not_made", extra={"invoice_id": invoice.pk})
                continue
            deliveries.append(
                email_delivery_new(**_invoice_email(invoice, address, envelope, text, n=1))
            )
        if not deliveries:
            return []
        EmailDelivery._base_manager.bulk_create(deliveries, ignore_conflicts=True)
        # Ours and any left queued by an earlier attempt (a worker stopped before sending).
        return list(
            EmailDelivery._base_manager.filter(
                idempotency_key__in=[d.idempotency_key for d in deliveries],
                status=EmailStatus.QUEUED,
            )
            .order_by("invoice_id", "pk")
            .values_list("pk", flat=True)
        )


def email_delivery_queue(**fields: Any) -> EmailDelivery | None:
    """Record one email (``email_delivery_new``'s fields) under its idempotency ``key`` and
    send it after commit. Returns None, recording nothing, when an email with that key exists
    already (sent, failed or on its way)."""
    queued = email_deliveries_queue([email_delivery_new(**fields)])
    return queued[0] if queued else None


def _valid_address(invoice: Invoice, to: str) -> str:
    address = (to or str(invoice.customer_snapshot.get("email") or "")).strip()
    if not address:
        raise DomainValidationError.for_fields(
            {"to": "The customer has no email address; give one to send the invoice to."}
        )
    try:
        validate_email(address)
    except ValidationError as exc:
        raise DomainValidationError.for_fields(
            {"to": f"{address!r} is not an email address."}
        ) from exc
    return address


@transaction.atomic
def invoice_send(*, invoice: Invoice, to: str = "", actor: Any = None) -> EmailDelivery:
    """Email the invoice (PDF attached) to ``to`` or the customer's address, after commit,
    from the issuer's address. Each call is one more email (an explicit re-send). Returns
    its delivery (``to``: the address it goes to); without a broker it is sent, or failed,
    by the time the outermost transaction has committed (docs/documents.md, "Email
    delivery")."""
    address = _valid_address(invoice, to)
    # Rendered and stored now, so a document that cannot be rendered fails the request.
    invoice_pdf(invoice)
    text = issuer_email_render(invoice.issuer_id, "email_invoice", invoice_email_context(invoice))
    envelope = issuer_email_envelope(
        Partner.objects.get(pk=invoice.issuer_id),
        address=str(invoice.issuer_snapshot.get("email") or ""),
    )
    previous = EmailDelivery.objects.filter(
        invoice_id=invoice.pk, kind=EmailKind.INVOICE, to=address
    ).count()
    delivery = None
    # Two sends of one invoice at the same moment may pick the same number: take the next.
    for n in range(previous + 1, previous + 11):
        delivery = email_delivery_queue(**_invoice_email(invoice, address, envelope, text, n=n))
        if delivery is not None:
            break
    if delivery is None:
        raise DomainValidationError(
            "The invoice is being sent to this address right now; try again in a moment."
        )
    audit_record(
        action="invoice.sent",
        obj=invoice,
        actor=actor,
        changes={"to": address, "email_delivery": delivery.pk},
    )
    return delivery


class _WholeLinesGenerator(BytesGenerator):
    """The standard generator, writing each text part (an attachment's base64 is some 700
    lines per PDF) in one piece with its line endings made ``linesep`` at once, not line by
    line: the same bytes, a fraction of the CPU (docs/performance.md, "PDFs and e-mails")."""

    def _write_lines(self, lines: str) -> None:
        if lines:
            if "\r" in lines:  # CRLF and CR as LF first (str.replace: a tenth of a regex's time)
                lines = lines.replace("\r\n", "\n").replace("\r", "\n")
            self.write(lines.replace("\n", self._NL))  # type: ignore[attr-defined]


def _message_bytes(message: Message, unixfrom: bool = False, linesep: str = "\n") -> bytes:
    """``message.as_bytes()`` as Django writes it (no ``From`` mangling), with
    ``_WholeLinesGenerator``."""
    out = BytesIO()
    _WholeLinesGenerator(out, mangle_from_=False).flatten(
        message, unixfrom=unixfrom, linesep=linesep
    )
    return out.getvalue()


class _EmailMessage(EmailMessage):
    """Django's e-mail message, whose MIME form flattens with ``_message_bytes``."""

    def message(self, **kwargs: Any) -> Any:
        mime = super().message(**kwargs)
        # Each multipart's boundary chosen now, 128 random bits: left unset, the generator
        # picks one and searches the whole flattened message (the PDF's base64) for it, a
        # fifth of the message's CPU. It cannot clash: no base64 line starts with "-", and
        # a text part would have to contain the random token.
        for part in mime.walk():
            if part.is_multipart() and part.get_boundary() is None:
                part.set_boundary(f"==============={secrets.token_hex(16)}==")
        mime.as_bytes = functools.partial(_message_bytes, mime)  # type: ignore[method-assign]
        return mime


def _message(delivery: EmailDelivery, connection: Any = None) -> EmailMessage:
    message = _EmailMessage(
        connection=connection,
        subject=delivery.subject,
        body=delivery.body,
        from_email=delivery.from_email or settings.DEFAULT_FROM_EMAIL,
        to=[delivery.to],
        reply_to=[delivery.reply_to] if delivery.reply_to else None,
        headers={"Message-ID": delivery.message_id},
    )
    if delivery.kind == EmailKind.INVOICE and delivery.invoice is not None:
        message.attach(
            f"{delivery.invoice.number}.pdf", invoice_pdf(delivery.invoice), "application/pdf"
        )
        # A summary PDF prints no lines: they go with it as CSV (docs/documents.md, "Summary
        # of a large aggregated invoice").
        if invoice_pdf_is_summary(delivery.invoice):
            message.attach(*invoice_detail_attachment(delivery.invoice))
    return message


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]


def email_deliveries_for_send(delivery_ids: Iterable[int]) -> dict[int, EmailDelivery]:
    """The deliveries of ``delivery_ids`` still queued, by id, with what their messages need
    (the invoice's number, kind and stored PDF path, not its snapshots), read in one query:
    a batch's sender reads them together and hands each to ``email_delivery_send``."""
    return {
        d.pk: d
        for d in EmailDelivery.objects.filter(
            pk__in=[int(pk) for pk in delivery_ids], status=EmailStatus.QUEUED
        )
        .select_related("invoice")
        .defer(*(f"invoice__{name}" for name in _INVOICE_UNUSED_BY_MESSAGE))
    }


# The invoice's columns a message does not read (a PDF rendered late reads the invoice again).
_INVOICE_UNUSED_BY_MESSAGE = ("issuer_snapshot", "customer_snapshot")


def _queued_lock(delivery_id: int) -> int | None:
    """Lock the delivery's row if it is still queued and return its attempts so far (None:
    sent, failed or gone). A concurrent attempt waits here, then finds it no longer queued."""
    table = db_connection.ops.quote_name(EmailDelivery._meta.db_table)
    lock = " FOR NO KEY UPDATE" if db_connection.vendor == "postgresql" else ""
    with db_connection.cursor() as cur:
        cur.execute(
            f"SELECT attempts FROM {table} WHERE id = %s AND status = %s{lock}",  # noqa: S608 - the model's table
            [delivery_id, EmailStatus.QUEUED],
        )
        row = cur.fetchone()
    return None if row is None else int(row[0])


def _attempt_save(delivery: EmailDelivery) -> None:
    """Write the attempt's columns of the locked delivery (one statement by id)."""
    table = db_connection.ops.quote_name(EmailDelivery._meta.db_table)
    at = db_connection.ops.adapt_datetimefield_value
    with db_connection.cursor() as cur:
        cur.execute(
            f"UPDATE {table} SET attempts = %s, last_attempt_at = %s, status = %s, "  # noqa: S608 - the model's table
            "last_error = %s, sent_at = %s WHERE id = %s",
            [
                delivery.attempts,
                at(delivery.last_attempt_at),
                delivery.status,
                delivery.last_error,
                at(delivery.sent_at),
                delivery.pk,
            ],
        )


def email_delivery_send(
    *,
    delivery_id: int,
    final: bool = False,
    connection: Any = None,
    delivery: EmailDelivery | None = None,
) -> str:
    """One attempt to send a queued delivery; returns an ``EmailOutcome``. The row stays
    locked while the message is handed to the backend, so a concurrent attempt waits and
    then skips it. A transport error is recorded and answers ``RETRY`` (``FAILED`` when
    ``final``); any other error fails the delivery at once. ``connection``: an open
    connection of Django's e-mail backend to send through (a batch's), else a new one.
    ``delivery``: the row as ``email_deliveries_for_send`` read it (a batch's), else read."""
    if delivery is None:
        delivery = email_deliveries_for_send([delivery_id]).get(delivery_id)
        if delivery is None:
            return EmailOutcome.SKIPPED
    with transaction.atomic():
        attempts = _queued_lock(delivery.pk)
        if attempts is None:
            return EmailOutcome.SKIPPED
        now = timezone.now()
        delivery.attempts = attempts + 1
        delivery.last_attempt_at = now
        try:
            _message(delivery, connection).send()
        except EMAIL_RETRYABLE_ERRORS as exc:
            delivery.last_error = _error_text(exc)
            if final:
                delivery.status = EmailStatus.FAILED
            _attempt_save(delivery)
            log.warning(
                "email.send_failed",
                extra={
                    "email_delivery": delivery.pk,
                    "attempts": delivery.attempts,
                    "final": final,
                    "error": delivery.last_error,
                },
            )
            return EmailOutcome.FAILED if final else EmailOutcome.RETRY
        except Exception as exc:
            # A message that cannot be built (its invoice's PDF fails to render) fails the
            # same way on every attempt: recorded, not retried.
            delivery.last_error = _error_text(exc)
            delivery.status = EmailStatus.FAILED
            _attempt_save(delivery)
            log.exception("email.send_error", extra={"email_delivery": delivery.pk})
            return EmailOutcome.FAILED
        delivery.status = EmailStatus.SENT
        delivery.sent_at = now
        _attempt_save(delivery)
    log.info("email.sent", extra={"email_delivery": delivery.pk, "kind": delivery.kind})
    return EmailOutcome.SENT


def email_delivery_retry(
    *,
    delivery_ids: Iterable[int] | QuerySet[EmailDelivery] | None = None,
    actor: Any = None,
) -> int:
    """Queue failed deliveries (all of the open scope, or those of ``delivery_ids``: ids or
    a queryset of deliveries) again and send them after commit, each with a fresh round of
    retries. Returns how many were queued; ids that are not failed, or not in the scope,
    are not counted. With an ``actor`` (the Emails page, ``POST /emails/retry``) one
    ``email.retried`` audit event per partner records who did it."""
    with transaction.atomic():
        qs = EmailDelivery.objects.filter(status=EmailStatus.FAILED)
        if isinstance(delivery_ids, QuerySet):
            qs = qs.filter(pk__in=Subquery(delivery_ids.order_by().values("pk")))
        elif delivery_ids is not None:
            qs = qs.filter(pk__in=list(delivery_ids))
        rows = list(
            qs.select_for_update(no_key=True).order_by("pk").values_list("pk", "partner_id")
        )
        ids = [pk for pk, _partner in rows]
        EmailDelivery.objects.filter(pk__in=ids).update(status=EmailStatus.QUEUED)
        if actor is not None:
            _audit_per_partner("email.retried", rows, actor)
        _dispatch_on_commit(ids)
    return len(ids)


def email_deliveries_send_queued(
    *,
    older_than_seconds: int = 0,
    delivery_ids: Iterable[int] | QuerySet[EmailDelivery] | None = None,
    actor: Any = None,
) -> int:
    """Hand the e-mails still queued (those whose last attempt, or recording, is older than
    ``older_than_seconds``: their task was lost) to the sending task again; returns how
    many. All of the open scope, or those of ``delivery_ids`` (ids or a queryset, such as
    the E-mails page's filtered list: the stuck ones among them the scope may send). Safe
    beside a task that is sending them: a delivery is sent once, by whoever locks it first.
    With an ``actor`` (the E-mails page, ``POST /emails/retry`` with ``all_queued``) one
    ``email.queued_sent`` audit event per partner records who did it."""
    with transaction.atomic():
        qs = email_deliveries_stale(
            EmailDelivery.objects.all(), older_than_seconds=older_than_seconds
        )
        if isinstance(delivery_ids, QuerySet):
            qs = qs.filter(pk__in=Subquery(delivery_ids.order_by().values("pk")))
        elif delivery_ids is not None:
            qs = qs.filter(pk__in=list(delivery_ids))
        rows = list(qs.order_by("pk").values_list("pk", "partner_id"))
        ids = [pk for pk, _partner in rows]
        if actor is not None:
            _audit_per_partner("email.queued_sent", rows, actor)
        _dispatch_on_commit(ids)
    return len(ids)


def _audit_per_partner(action: str, rows: list[tuple[int, int]], actor: Any) -> None:
    """One audit event per partner of ``rows`` (delivery id, partner id): how many, which."""
    per_partner: dict[int, list[int]] = {}
    for pk, partner_id in rows:
        per_partner.setdefault(partner_id, []).append(pk)
    for partner_id, pks in sorted(per_partner.items()):
        audit_record(
            action=action,
            actor=actor,
            partner_id=partner_id,
            object_type="invoicing.emaildelivery",
            object_id=str(pks[0]) if len(pks) == 1 else "",
            changes={"count": len(pks), "ids": pks[:1000]},
        )


def email_delivery_counts() -> dict[str, int]:
    """Deliveries per status, every status present (0 when none)."""
    counts = dict.fromkeys(EmailStatus.values, 0)
    for status, n in EmailDelivery.objects.order_by().values_list("status").annotate(n=Count("pk")):
        counts[status] = n
    return counts


def billing_run_documents(run_id: int) -> dict[str, int]:
    """What became of a billing run's invoices after it (those the caller may see): PDFs
    stored, still to render and failed (``pdf_error`` without a PDF), and their e-mails
    (docs/documents.md, "Invoices e-mailed on issue") per status."""
    counts = Invoice.objects.filter(billing_run_id=run_id).aggregate(
        total=Count("pk"),
        stored=Count("pk", filter=~Q(pdf="")),
        failed=Count("pk", filter=Q(pdf="") & ~Q(pdf_error="")),
    )
    emails = dict.fromkeys(EmailStatus.values, 0)
    # Invoices, not e-mails: one sent again by hand counts once.
    for status, n in (
        EmailDelivery.objects.filter(invoice__billing_run_id=run_id, kind=EmailKind.INVOICE)
        .order_by()
        .values_list("status")
        .annotate(n=Count("invoice_id", distinct=True))
    ):
        emails[status] = n
    return {
        "pdfs_stored": counts["stored"],
        "pdfs_pending": counts["total"] - counts["stored"] - counts["failed"],
        "pdfs_failed": counts["failed"],
        "emails_sent": emails[EmailStatus.SENT],
        "emails_queued": emails[EmailStatus.QUEUED],
        "emails_failed": emails[EmailStatus.FAILED],
        **_run_not_emailed(run_id),
    }


def _run_not_emailed(run_id: int) -> dict[str, int]:
    """Why a run's invoices without any e-mail were not e-mailed: the issuer's "E-mail
    invoices when issued" is off (as it is now, or ``EMAIL_INVOICES_ON_ISSUE`` off), or it
    is on and the customer had no valid address (the invoice's customer snapshot, as
    ``invoices_issued_email_record`` reads it). Two queries whatever the run's size: the
    database counts those of issuers with the setting off, and gives the addresses of the
    others not e-mailed (few: those without an address), checked here as on issue."""
    not_emailed = Invoice.objects.filter(billing_run_id=run_id).exclude(
        Exists(
            EmailDelivery._base_manager.filter(invoice_id=OuterRef("pk"), kind=EmailKind.INVOICE)
        )
    )
    if not getattr(settings, "EMAIL_INVOICES_ON_ISSUE", True):
        return {"emails_no_address": 0, "emails_setting_off": not_emailed.count()}
    setting_off = not_emailed.filter(issuer__email_invoices_on_issue=False).count()
    no_address = 0
    for address in not_emailed.filter(issuer__email_invoices_on_issue=True).values_list(
        "customer_snapshot__email", flat=True
    ):
        try:
            validate_email(str(address or "").strip())
        except ValidationError:
            no_address += 1
    return {"emails_no_address": no_address, "emails_setting_off": setting_off}
