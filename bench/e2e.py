"""The end-to-end part of the billing benchmark (``bench/billing_run.py --e2e``): a local SMTP
server that takes the invoice e-mails, and the queueing of one e-mail per invoice of the run.

ispbill sends an invoice by e-mail when someone presses "Send" (web), calls
``POST /invoices/{id}/send`` (API) or ``invoice_send``; a billing run does not e-mail its
invoices by itself. The benchmark queues one e-mail per invoice of the run with the same
parts ``invoice_send`` uses (the issuer's e-mail template and envelope, one ``EmailDelivery``
each, sent after commit by ``email_delivery_send_task``), in batches of 1,000, without
``invoice_send``'s render of a missing PDF in the request: the sending task attaches the
stored PDF (or renders and stores it when the PDF task has not come to it yet).
"""

from __future__ import annotations

import socket
import threading
from typing import Any

BATCH = 1000


def invoices_email_queue(invoice_ids: list[int]) -> int:
    """Queue one invoice e-mail per invoice to the customer's address; returns how many."""
    from django.db import transaction

    from ispbill.invoicing.emails import invoice_email_context
    from ispbill.invoicing.models import EmailKind, Invoice
    from ispbill.invoicing.sending import (
        email_deliveries_queue,
        email_delivery_new,
        issuer_email_envelope,
    )
    from ispbill.invoicing.templates import issuer_email_render
    from ispbill.partners.models import Partner

    envelopes: dict[tuple[int, str], Any] = {}
    templates: dict[tuple[int, str], str] = {}
    queued = 0
    for i in range(0, len(invoice_ids), BATCH):
        with transaction.atomic():
            deliveries = []
            for invoice in Invoice.objects.filter(pk__in=invoice_ids[i : i + BATCH]).order_by("pk"):
                address = str(invoice.customer_snapshot.get("email") or "")
                if not address:
                    continue
                sender = str(invoice.issuer_snapshot.get("email") or "")
                key = (invoice.issuer_id, sender)
                if key not in envelopes:
                    envelopes[key] = issuer_email_envelope(
                        Partner.objects.get(pk=invoice.issuer_id), address=sender
                    )
                envelope = envelopes[key]
                text = issuer_email_render(
                    invoice.issuer_id,
                    "email_invoice",
                    invoice_email_context(invoice),
                    templates=templates,
                )
                deliveries.append(
                    email_delivery_new(
                        key=f"invoice:{invoice.pk}:{address}:1",
                        kind=EmailKind.INVOICE,
                        partner_id=invoice.partner_id,
                        issuer_id=invoice.issuer_id,
                        customer_id=invoice.customer_id,
                        invoice_id=invoice.pk,
                        to=address,
                        from_email=envelope.from_email,
                        reply_to=envelope.reply_to,
                        subject=text.subject,
                        body=envelope.body(text.body),
                    )
                )
            queued += len(email_deliveries_queue(deliveries))
    return queued


class SmtpSink:
    """An SMTP server on 127.0.0.1 that accepts every message and counts them (aiosmtpd,
    in a thread of the benchmark's process)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages = 0
        self.bytes = 0
        self._lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                with sink._lock:
                    sink.messages += 1
                    sink.bytes += len(envelope.content)
                return "250 OK"

        # Invoice e-mails with their PDF are about 80 kB; aiosmtpd's default limit is 32 MB.
        with socket.socket() as probe:  # a free port
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> int:
        self._controller.start()
        return self.port

    def stop(self) -> None:
        self._controller.stop()
