"""The pre-notification: an invoice issued to a customer with an active mandate says that
its amount due is collected by direct debit, when, under which mandate reference and
creditor identifier (docs/payments.md, "Pre-notification")."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django_scopes import scopes_disabled

from ispbill.invoicing.issue import IssuedInvoice
from ispbill.invoicing.models import Invoice
from ispbill.sepa.models import CreditorSettings, DebitNotice, Mandate, MandateStatus
from ispbill.sepa.rules import collection_date_for, iban_masked

__all__ = [
    "being_collected",
    "creditor_settings_for",
    "debit_notices_create",
    "debit_notices_document_data",
    "on_invoices_issued",
]

SEPA_CURRENCY = "EUR"


def creditor_settings_for(issuer_ids: list[int]) -> dict[int, CreditorSettings]:
    """The enabled creditor settings of these issuers, by issuer id. Read across scopes: a
    percentage partner's request may issue a home invoice to its customer, and the portal
    shows its issuer's creditor identifier (printed on every invoice anyway)."""
    with scopes_disabled():
        return {
            s.partner_id: s
            for s in CreditorSettings.objects.filter(partner_id__in=issuer_ids, enabled=True)
        }


def debit_notices_create(invoices: list[IssuedInvoice]) -> None:
    """Record the pre-notification of every invoice whose customer has an active mandate
    with the invoice's issuer (an ``invoices_issue`` hook: two reads and one insert)."""
    settings = creditor_settings_for(sorted({inv.issuer_id for inv in invoices}))
    wanted = [
        inv for inv in invoices if inv.issuer_id in settings and inv.currency == SEPA_CURRENCY
    ]
    if not wanted:
        return
    with scopes_disabled():
        mandates = {
            (m.customer_id, m.creditor_id): m
            for m in Mandate.objects.filter(
                customer_id__in=sorted({inv.customer_id for inv in wanted}),
                creditor_id__in=list(settings),
                status=MandateStatus.ACTIVE,
            )
        }
    rows = []
    for inv in wanted:
        mandate = mandates.get((inv.customer_id, inv.issuer_id))
        if mandate is None:
            continue
        rows.append(
            DebitNotice(
                partner_id=inv.partner_id,
                customer_id=inv.customer_id,
                invoice_id=inv.pk,
                mandate=mandate,
                creditor_id=settings[inv.issuer_id].creditor_id,
                mandate_reference=mandate.reference,
                iban_masked=iban_masked(mandate.iban),
                collection_date=collection_date_for(
                    issue_date=inv.issue_date,
                    due_date=inv.due_date,
                    notice_days=settings[inv.issuer_id].notice_days,
                ),
            )
        )
    DebitNotice.objects.bulk_create(rows)


def on_invoices_issued(*, invoices: list[IssuedInvoice], **kwargs: Any) -> None:
    """``invoices_issued`` receiver: the issuing transaction records the pre-notifications."""
    debit_notices_create(invoices)


def debit_notices_document_data(
    invoices: list[Invoice], documents: dict[int, dict[str, Any]]
) -> None:
    """Put each invoice's pre-notification into its document data
    (``document.direct_debit``), read in one query for all of them."""
    notices = DebitNotice.objects.filter(invoice_id__in=[inv.pk for inv in invoices])
    for notice in notices:
        documents[notice.invoice_id]["document"]["direct_debit"] = {
            "collection_date": notice.collection_date.isoformat(),
            "mandate_reference": notice.mandate_reference,
            "creditor_id": notice.creditor_id,
            "debtor_iban": notice.iban_masked,
        }


def being_collected() -> Q:
    """Invoices in a debit the bank has (batch submitted) and that is not booked yet: the
    money is on its way, so dunning leaves them alone until the batch is marked collected
    or the debit comes back."""
    return Q(sepa_debit__debit__status="pending", sepa_debit__debit__collection__status="submitted")


def pre_notified() -> Q:
    """Invoices that carry a direct debit pre-notification: collected from the account, so
    card autopay leaves them alone (registered in ``payments.selectors.COLLECTED_OTHERWISE``)."""
    return Q(debit_notice__isnull=False)
