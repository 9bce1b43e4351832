"""Billing read-side: which billing runs a user may see, asked by the web and the API alike.

Billing runs have no scoped manager (an operator run has no partner), so the rule is here,
written once, against the open tenant scope (ispbill.core.tenancy)."""

from __future__ import annotations

from django.db.models import QuerySet

from ispbill.billing.models import BillingRun
from ispbill.core.tenancy import current_customer_id, current_partner_ids


def billing_runs_visible() -> QuerySet[BillingRun]:
    """Every run for operator staff and background work; a partner's own runs (those it
    started for its customers) for its staff; none in a customer's portal. Dry runs leave no
    row, so every run listed billed."""
    if current_customer_id() is not None:
        return BillingRun.objects.none()
    partners = current_partner_ids()
    if partners is None:
        return BillingRun.objects.filter(dry_run=False)
    return BillingRun.objects.filter(dry_run=False, scope_partner_id__in=partners)
