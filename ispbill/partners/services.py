"""Partner selectors and services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import model_to_dict

from ispbill.core.audit import audit_record, model_diff
from ispbill.partners.models import SETTING_MODES, Partner, PartnerMode, setting_applies


def partner_home() -> Partner:
    """The home partner (the operator), created by the migrations."""
    return Partner.objects.get(is_home=True)


# Settings a user may change on a partner; the mode changes through partner_mode_change.
PARTNER_FIELDS = (
    "name",
    "legal_name",
    "street",
    "postcode",
    "city",
    "country",
    "vat_id",
    "email",
    "phone",
    "website",
    "iban",
    "bic",
    "currency",
    "prices_include_tax",
    "billing_day",
    "payment_due_days",
    "payment_period",
    "first_period_billing",
    "blocking_days",
    "deactivation_days",
    "reminder_days",
    "email_invoices_on_issue",
    "invoice_number_pattern",
    "credit_note_number_pattern",
    "receipt_number_pattern",
    "self_billing_number_pattern",
    "commission_bp",
    "commission_base",
    "commission_statement_day",
    "discount_bp",
    "aggregation_day",
    "aggregation_cycle",
    "aggregation_anchor_month",
    "block_subcustomers",
    "wholesale_charges",
    "runs_own_billing",
    "plan_change_credit",
    "plan_change_invoicing",
    "portal_plan_change",
    "fee_upgrade_minor",
    "fee_downgrade_minor",
    "fee_disconnection_minor",
    "fee_reconnection_minor",
    "fee_late_payment_minor",
    "late_fee_days",
    "fee_tax_rate",
)


_MODE_WORDS = {
    PartnerMode.DIRECT: "the home partner",
    PartnerMode.PERCENTAGE: "percentage partners",
    PartnerMode.OWN_INVOICING: "own-invoicing partners",
    PartnerMode.AGGREGATED: "aggregated partners",
}


def setting_outside_mode_text(name: str, mode: str) -> str:
    words = [w for m, w in _MODE_WORDS.items() if m in SETTING_MODES[name]]
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return f"Applies only to {listed}, not to {_MODE_WORDS[PartnerMode(mode)]}."


def partner_fields_apply(partner: Partner, fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(PARTNER_FIELDS)
    if unknown:
        raise ValueError(f"not partner settings: {sorted(unknown)}")
    # A setting of another mode would be stored and never used: refused unless it is sent
    # back unchanged (a client that sends the whole partner back).
    outside = {
        name: setting_outside_mode_text(name, partner.mode)
        for name, value in fields.items()
        if not setting_applies(name, partner.mode) and getattr(partner, name) != value
    }
    if outside:
        raise ValidationError(outside)
    for name, value in fields.items():
        setattr(partner, name, value)
    partner.full_clean()


@transaction.atomic
def partner_update(*, partner: Partner, actor: Any = None, **fields: Any) -> Partner:
    """Change a partner's issuer details and settings."""
    locked = Partner.objects.select_for_update(no_key=True).get(pk=partner.pk)
    before = model_to_dict(locked, fields=list(PARTNER_FIELDS))
    partner_fields_apply(locked, fields)
    locked.save()
    changes = model_diff(before, model_to_dict(locked, fields=list(PARTNER_FIELDS)))
    if changes:
        audit_record(action="partner.updated", obj=locked, actor=actor, changes=changes)
    return locked


@transaction.atomic
def partner_active_set(*, partner: Partner, active: bool, actor: Any = None) -> Partner:
    """Disable (or enable again) a reseller; partners are never deleted."""
    locked = Partner.objects.select_for_update(no_key=True).get(pk=partner.pk)
    if locked.is_home and not active:
        raise ValidationError("The home partner cannot be disabled.")
    if locked.is_active != active:
        locked.is_active = active
        locked.save(update_fields=["is_active"])
        audit_record(
            action="partner.enabled" if active else "partner.disabled", obj=locked, actor=actor
        )
    return locked


def partner_disable(*, partner: Partner, actor: Any = None) -> Partner:
    """Partners are never deleted: a disabled one keeps its documents readable."""
    return partner_active_set(partner=partner, active=False, actor=actor)


def partner_enable(*, partner: Partner, actor: Any = None) -> Partner:
    return partner_active_set(partner=partner, active=True, actor=actor)
