"""Commission read-side: which commission statements a user may see, asked by the web and
the API alike (the open tenant scope decides, ispbill.core.tenancy)."""

from __future__ import annotations

from django.db.models import QuerySet

from ispbill.core.tenancy import current_customer_id, current_partner_ids
from ispbill.partners.models import CommissionStatement


def commission_statements_visible() -> QuerySet[CommissionStatement]:
    """Every statement for operator staff; a partner's own for its staff; none in a
    customer's portal."""
    if current_customer_id() is not None:
        return CommissionStatement.objects.none()
    partners = current_partner_ids()
    if partners is None:
        return CommissionStatement.objects.all()
    return CommissionStatement.objects.filter(partner_id__in=partners)
