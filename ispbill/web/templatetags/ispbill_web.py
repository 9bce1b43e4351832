"""Template filters of the web UI: money in minor units, percentages in hundredths."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import template

from ispbill.core.money import Money
from ispbill.documents.i18n import line_adjustment_text

register = template.Library()


@register.filter
def money(minor: Any, currency: str = "EUR") -> str:
    """``{{ invoice.total_minor|money:invoice.currency }}`` -> "€1,234.50"."""
    if minor is None or minor == "":
        return "—"
    return Money.from_minor(int(minor), currency or "EUR").format("en")


@register.filter
def percent_bp(bp: Any) -> str:
    """Hundredths of a percent as a percentage: 1250 -> "12.50 %"."""
    if bp is None or bp == "":
        return "—"
    value = int(bp)
    return f"{value // 100}.{value % 100:02d} %"


@register.filter
def line_adjustment(adjustment: Any) -> str:
    """Why an invoice line's amount is not quantity x unit price: "12/30 days",
    "discount 10%" (the text the PDF prints, in the UI's English)."""
    return line_adjustment_text(adjustment or None, "en")


@register.filter
def speed(kbps: Any) -> str:
    if not kbps:
        return ""
    value = int(kbps)
    return f"{value // 1000} Mbit/s" if value >= 1000 else f"{value} kbit/s"


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    """``{{ changes|get_item:service.id }}``: a dict's value, or None."""
    return mapping.get(key) if mapping else None


@register.simple_tag(takes_context=True)
def query_with(context: Any, **changes: Any) -> str:
    """The current query string with some parameters replaced (pagination, sorting)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    return "?" + urlencode(sorted(params.items()))


@register.filter
def gigabytes(value: Any) -> str:
    """Bytes as GB (10^9) with two decimals: 1 500 000 000 → "1.50 GB"."""
    if value is None:
        return ""
    from decimal import Decimal

    return f"{(Decimal(int(value)) / 10**9).quantize(Decimal('0.01'))} GB"


_SINGULAR = {"batches": "batch", "deliveries": "delivery", "entries": "entry"}


@register.filter
def counted(count: Any, noun: str = "rows") -> str:
    """``3|counted:"users"`` -> "3 users"; ``1|counted:"users"`` -> "1 user"."""
    if count != 1:
        return f"{count} {noun}"
    return f"{count} {_SINGULAR.get(noun, noun[:-1] if noun.endswith('s') else noun)}"


@register.filter
def possessive(name: Any) -> str:
    """A name's possessive: "Alpenfunk's", "CityNet Resellers'"."""
    text = str(name)
    return f"{text}'" if text.endswith(("s", "S")) else f"{text}'s"
