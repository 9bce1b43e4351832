"""The issuer's and the recipient's details as a document keeps them: copied at issue, so a
later change of address or name never alters an issued document."""

from __future__ import annotations

from typing import Any

from ispbill.customers.models import Customer, CustomerRow
from ispbill.partners.models import Partner


def issuer_snapshot(p: Partner) -> dict[str, Any]:
    return {
        "id": p.pk,
        "name": p.legal_name or p.name,
        "street": p.street,
        "postcode": p.postcode,
        "city": p.city,
        "country": p.country,
        "vat_id": p.vat_id,
        "email": p.email,
        "phone": p.phone,
        "website": p.website,
        "iban": p.iban,
        "bic": p.bic,
        # The brand (partners/brand.py) as the document prints it: display name and colour.
        "brand_name": p.brand_name,
        "color": p.brand_color,
    }


def customer_snapshot(c: Customer | CustomerRow) -> dict[str, Any]:
    return {
        "id": c.pk,
        "reference": c.reference,
        "name": c.name,
        "company": c.company,
        "street": c.street,
        "postcode": c.postcode,
        "city": c.city,
        "country": c.country,
        "vat_id": c.vat_id,
        "email": c.email,
        "language": c.language,
    }
