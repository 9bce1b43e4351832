"""Creditor settings and mandates: the write services (docs/payments.md, "Mandates")."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from ispbill.catalog.models import TaxRate
from ispbill.core.audit import audit_record
from ispbill.core.money import AMOUNT_MAX_MINOR
from ispbill.customers.models import Customer
from ispbill.customers.selectors import account_issuer
from ispbill.events.services import NewEvent, events_write
from ispbill.partners.models import Partner
from ispbill.sepa.models import CreditorSettings, Mandate, MandateSource, MandateStatus
from ispbill.sepa.notices import SEPA_CURRENCY, creditor_settings_for
from ispbill.sepa.rules import (
    SepaError,
    bic_clean,
    creditor_id_clean,
    iban_clean,
    iban_masked,
    mandate_reference_clean,
    sepa_text,
)

__all__ = [
    "creditor_settings_save",
    "mandate_create",
    "mandate_final_set",
    "mandate_revoke",
    "mandate_text",
]

NOTICE_DAYS_MAX = 60


@transaction.atomic
def creditor_settings_save(
    *,
    partner: Partner,
    creditor_id: str,
    creditor_name: str,
    iban: str,
    bic: str = "",
    enabled: bool = True,
    notice_days: int = 14,
    return_fee_minor: int = 0,
    return_fee_tax_rate: TaxRate | None = None,
    mandate_text: str = "",
    actor: Any = None,
) -> CreditorSettings:
    """Create or change an issuer's creditor settings: the home partner, or an own-invoicing
    partner, which collects into its own account under its own creditor identifier."""
    if not partner.issues_own_documents:
        raise SepaError(
            f"{partner.name} does not issue its own invoices; the home partner collects for "
            "its customers.",
            fields={"partner": "does not issue its own invoices"},
        )
    if partner.currency != SEPA_CURRENCY:
        raise SepaError(
            f"SEPA direct debits are in EUR; {partner.name} invoices in {partner.currency}.",
            fields={"partner": "invoices in another currency than EUR"},
        )
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for name, check in (
        ("creditor_id", lambda: creditor_id_clean(creditor_id)),
        ("iban", lambda: iban_clean(iban)),
    ):
        try:
            cleaned[name] = check()
        except SepaError as exc:
            errors[name] = exc.message
    if "iban" in cleaned:
        try:
            cleaned["bic"] = bic_clean(bic, iban=cleaned["iban"])
        except SepaError as exc:
            errors["bic"] = exc.message
    name = sepa_text(creditor_name or partner.legal_name or partner.name, 70)
    if not name:
        errors["creditor_name"] = "Give the creditor's name as the bank knows it."
    if not 0 <= notice_days <= NOTICE_DAYS_MAX:
        errors["notice_days"] = f"Choose from 0 to {NOTICE_DAYS_MAX} days."
    if not 0 <= return_fee_minor <= AMOUNT_MAX_MINOR:
        errors["return_fee"] = "The return fee must be zero or more, within the amount limit."
    if return_fee_minor > 0:
        if return_fee_tax_rate is None:
            errors["return_fee_tax_rate"] = "Choose the tax rate of the return fee."
        elif return_fee_tax_rate.partner_id != partner.pk:
            errors["return_fee_tax_rate"] = "Choose one of the issuer's own tax rates."
    if errors:
        raise SepaError.for_fields(errors)
    values = {
        "enabled": enabled,
        "creditor_id": cleaned["creditor_id"],
        "creditor_name": name,
        "iban": cleaned["iban"],
        "bic": cleaned["bic"],
        "notice_days": notice_days,
        "return_fee_minor": return_fee_minor,
        "return_fee_tax_rate": return_fee_tax_rate if return_fee_minor > 0 else None,
        "mandate_text": mandate_text.strip(),
    }
    existing = CreditorSettings.objects.filter(partner=partner).first()
    before = (
        {k: str(getattr(existing, k)) for k in values if k != "return_fee_tax_rate"}
        if existing
        else {}
    )
    settings, _ = CreditorSettings.objects.update_or_create(partner=partner, defaults=values)
    after = {k: str(v) for k, v in values.items() if k != "return_fee_tax_rate"}
    audit_record(
        action="sepa.creditor_settings_saved",
        obj=settings,
        actor=actor,
        partner_id=partner.pk,
        changes={k: v for k, v in after.items() if before.get(k) != v},
    )
    return settings


def mandate_text(*, settings: CreditorSettings) -> str:
    """The SEPA Core mandate text (EPC wording) naming the creditor, as shown before signing."""
    text = (
        f"By signing this mandate form, you authorise (A) {settings.creditor_name} to send "
        "instructions to your bank to debit your account and (B) your bank to debit your "
        f"account in accordance with the instructions from {settings.creditor_name}. "
        "As part of your rights, you are entitled to a refund from your bank under the terms "
        "and conditions of your agreement with your bank. A refund must be claimed within "
        "8 weeks starting from the date on which your account was debited. Your rights are "
        "explained in a statement that you can obtain from your bank. "
        f"Creditor identifier: {settings.creditor_id}. "
        f"You are notified of each collection on its invoice at least {settings.notice_days} "
        "days before it."
    )
    if settings.mandate_text:
        text += "\n\n" + settings.mandate_text
    return text


def _reference_next(customer: Customer, creditor: Partner) -> str:
    base = sepa_text(customer.reference, 28).replace(" ", "") or f"C{customer.pk}"
    with scopes_disabled():
        taken = set(
            Mandate.objects.filter(creditor=creditor, reference__startswith=f"{base}-").values_list(
                "reference", flat=True
            )
        )
    n = 1
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


@transaction.atomic
def mandate_create(
    *,
    customer: Customer,
    iban: str,
    signature_date: date,
    bic: str = "",
    reference: str = "",
    debtor_name: str = "",
    source: str = MandateSource.STAFF,
    signed_text: str = "",
    actor: Any = None,
) -> Mandate:
    """Record a signed mandate of ``customer`` for the issuer of its invoices. Without a
    reference, the next free ``<customer number>-<n>`` is given."""
    creditor = account_issuer(customer)
    settings = creditor_settings_for([creditor.pk]).get(creditor.pk)
    if settings is None:
        raise SepaError(
            f"{creditor.name} does not collect by SEPA direct debit: its creditor identifier "
            "is not set (Settings → Direct debit).",
            fields={"customer": "its issuer does not collect by direct debit"},
        )
    errors: dict[str, str] = {}
    cleaned: dict[str, str] = {}
    try:
        cleaned["iban"] = iban_clean(iban)
        cleaned["bic"] = bic_clean(bic, iban=cleaned["iban"])
    except SepaError as exc:
        errors.update(exc.fields or {"iban": exc.message})
    if reference.strip():
        try:
            cleaned["reference"] = mandate_reference_clean(reference)
        except SepaError as exc:
            errors["reference"] = exc.message
    if signature_date > timezone.localdate():
        errors["signature_date"] = "A mandate cannot be signed in the future."
    name = sepa_text(debtor_name or customer.company or customer.name, 70)
    if not name:
        errors["debtor_name"] = "Give the account holder's name."
    if errors:
        raise SepaError.for_fields(errors)
    with scopes_disabled():
        active = (
            Mandate.objects.filter(
                customer=customer, creditor=creditor, status=MandateStatus.ACTIVE
            )
            .values_list("reference", flat=True)
            .first()
        )
    if active:
        raise SepaError(
            f"Customer {customer.reference} already has the active mandate {active}; revoke "
            "it first (a new account is a new mandate).",
            fields={"customer": "already has an active mandate"},
            code="conflict",
        )
    ref = cleaned.get("reference") or _reference_next(customer, creditor)
    try:
        with transaction.atomic():
            mandate = Mandate.objects.create(
                partner_id=customer.partner_id,
                customer=customer,
                creditor=creditor,
                reference=ref,
                signature_date=signature_date,
                debtor_name=name,
                iban=cleaned["iban"],
                bic=cleaned["bic"],
                source=source,
                signed_text=signed_text,
            )
    except IntegrityError as exc:
        raise SepaError(
            f"The mandate reference {ref} is already used by {creditor.name}; choose another.",
            fields={"reference": "already used"},
            code="duplicate",
        ) from exc
    _mandate_event("mandate.created", mandate)
    audit_record(
        action="sepa.mandate_created",
        obj=mandate,
        actor=actor,
        changes={
            "customer": customer.reference,
            "reference": ref,
            "signature_date": signature_date.isoformat(),
            "iban": cleaned["iban"][:4] + "…" + cleaned["iban"][-4:],
            "source": source,
        },
    )
    return mandate


def _mandate_event(kind: str, mandate: Mandate) -> None:
    """The outbox's event, in this transaction (docs/webhooks.md); the IBAN masked."""
    events_write(
        [
            NewEvent(
                kind,
                mandate.partner_id,
                "mandate",
                mandate.pk,
                {
                    "mandate_id": mandate.pk,
                    "customer_id": mandate.customer_id,
                    "reference": mandate.reference,
                    "status": mandate.status,
                    "signature_date": mandate.signature_date.isoformat(),
                    "iban_masked": iban_masked(mandate.iban),
                    "ended_on": mandate.ended_on.isoformat() if mandate.ended_on else None,
                },
            )
        ]
    )


@transaction.atomic
def mandate_revoke(*, mandate: Mandate, on: date, reason: str, actor: Any = None) -> Mandate:
    """End an active mandate (the customer revoked it, or a return said the account is
    gone). Debits already submitted stay; nothing more is collected under it."""
    locked = Mandate.objects.select_for_update().get(pk=mandate.pk)
    if locked.status != MandateStatus.ACTIVE:
        raise SepaError(
            f"Mandate {locked.reference} is {locked.get_status_display().lower()} already.",
            code="conflict",
        )
    reason = reason.strip()[:200] or "revoked"
    locked.status = MandateStatus.REVOKED
    locked.ended_on = on
    locked.end_reason = reason
    locked.save(update_fields=["status", "ended_on", "end_reason"])
    _mandate_event("mandate.revoked", locked)
    audit_record(
        action="sepa.mandate_revoked",
        obj=locked,
        actor=actor,
        changes={"reference": locked.reference, "on": on.isoformat(), "reason": reason},
    )
    return locked


@transaction.atomic
def mandate_final_set(*, mandate: Mandate, actor: Any = None) -> Mandate:
    """Make the next collection under a used mandate its last (FNAL): the customer leaves."""
    locked = Mandate.objects.select_for_update().get(pk=mandate.pk)
    if locked.status != MandateStatus.ACTIVE:
        raise SepaError(f"Mandate {locked.reference} is not active.", code="conflict")
    if locked.sequence != "RCUR":
        raise SepaError(
            f"Mandate {locked.reference} has not been used yet (its next collection is "
            f"{locked.sequence}); revoke it instead.",
            code="conflict",
        )
    locked.sequence = "FNAL"
    locked.save(update_fields=["sequence"])
    audit_record(
        action="sepa.mandate_final",
        obj=locked,
        actor=actor,
        changes={"reference": locked.reference},
    )
    return locked
