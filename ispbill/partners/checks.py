"""Partner invariants verified by ``ispbill check``: one home partner, valid issuer
settings."""

from __future__ import annotations

from ispbill.core.invariants import Breach, invariant
from ispbill.core.money import InvalidCurrency, validate_currency
from ispbill.core.numbering import PatternError, validate_pattern
from ispbill.partners.models import Partner, PartnerMode


@invariant("partners.home")
def check_home_partner() -> list[Breach]:
    homes = list(Partner.objects.filter(is_home=True).values_list("pk", flat=True))
    if len(homes) != 1:
        return [Breach("partners.home", f"expected one home partner, found {len(homes)}")]
    return []


@invariant("partners.issuer_settings")
def check_issuer_settings() -> list[Breach]:
    out = []
    for p in Partner.objects.all():
        for attr in (
            "invoice_number_pattern",
            "credit_note_number_pattern",
            "receipt_number_pattern",
            "self_billing_number_pattern",
        ):
            try:
                validate_pattern(getattr(p, attr))
            except PatternError as exc:
                out.append(
                    Breach("partners.issuer_settings", f"{attr}: {exc}", (f"partner:{p.pk}",))
                )
        try:
            validate_currency(p.currency)
        except InvalidCurrency as exc:
            out.append(Breach("partners.issuer_settings", str(exc), (f"partner:{p.pk}",)))
        if p.account_id is not None and p.account is not None and not p.account.partner.is_home:
            out.append(
                Breach(
                    "partners.issuer_settings",
                    "a partner's account must be a customer of the home partner",
                    (f"partner:{p.pk}", f"customer:{p.account_id}"),
                )
            )
        if p.mode == PartnerMode.AGGREGATED and p.account_id is None:
            out.append(
                Breach(
                    "partners.issuer_settings",
                    "an aggregated partner needs an account to be billed",
                    (f"partner:{p.pk}",),
                )
            )
    return out
