from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ispbill.documents import data as D
from ispbill.documents.i18n import TEXTS, money_format
from ispbill.documents.render import document_template_input


@pytest.mark.parametrize("document_type", sorted(D.SAMPLES))
def test_samples_follow_the_data_model(document_type: str) -> None:
    data = D.document_sample(document_type=document_type)
    D.document_data_check(data)
    json.dumps(data)


@pytest.mark.parametrize(
    "factory",
    [
        D.sample_invoice,
        D.sample_invoice_gross,
        D.sample_multi_rate_invoice,
        D.sample_credit_note,
        D.sample_aggregated_invoice,
    ],
)
def test_sample_invoices_add_up_as_the_domain_rules_say(factory) -> None:  # type: ignore[no-untyped-def]
    data = factory()
    cent = Decimal("0.01")
    lines = data["lines"]
    for row in data["tax_breakdown"]:
        rate = Decimal(row["rate"])
        amounts = sum(Decimal(li["amount"]) for li in lines if Decimal(li["tax_rate"]) == rate)
        if data["document"]["prices_include_tax"]:
            tax = (amounts * rate / (100 + rate)).quantize(cent, rounding=ROUND_HALF_UP)
            assert Decimal(row["net"]) == amounts - tax
        else:
            tax = (amounts * rate / 100).quantize(cent, rounding=ROUND_HALF_UP)
            assert Decimal(row["net"]) == amounts
        assert Decimal(row["tax"]) == tax
    totals = {k: Decimal(v) for k, v in data["totals"].items()}
    assert totals["net"] == sum(Decimal(r["net"]) for r in data["tax_breakdown"])
    assert totals["tax"] == sum(Decimal(r["tax"]) for r in data["tax_breakdown"])
    assert totals["total"] == totals["net"] + totals["tax"]
    assert totals["due"] == totals["total"] - totals["paid"]
    for section in data["sections"]:
        members = [Decimal(li["amount"]) for li in lines if li.get("section") == section["key"]]
        assert Decimal(section["subtotal"]) == sum(members)


def test_floats_are_refused_anywhere() -> None:
    data = D.sample_invoice()
    data["lines"][0]["amount"] = 39.9  # type: ignore[typeddict-item]
    with pytest.raises(D.DocumentDataError, match=r"lines\[0\]\.amount"):
        D.document_data_check(dict(data))


def test_non_decimal_strings_are_refused() -> None:
    data = D.sample_invoice()
    data["totals"]["due"] = "115,57"
    with pytest.raises(D.DocumentDataError, match="decimal string"):
        D.document_data_check(dict(data))


def test_translations_have_the_same_keys() -> None:
    assert set(TEXTS["de"]) == set(TEXTS["en"])


money = st.decimals(
    min_value=Decimal("-999999.99"), max_value=Decimal("999999.99"), places=2, allow_nan=False
)


@settings(max_examples=200, deadline=None)
@given(amount=money, language=st.sampled_from(["de", "en"]))
def test_money_strings_stay_strings(amount: Decimal, language: str) -> None:
    data = D.sample_invoice(language=language)  # type: ignore[arg-type]
    text = str(amount)
    data["lines"][0]["amount"] = text
    data["totals"]["due"] = text
    template_input = document_template_input(dict(data))
    encoded = json.loads(json.dumps(template_input))
    # The raw value reaches the template as the very same string, never a number.
    assert encoded["lines"][0]["amount"] == text
    assert encoded["totals"]["due"] == text
    assert isinstance(encoded["totals"]["due"], str)
    # The formatted value shows the exact digits.
    formatted = encoded["totals"]["fmt"]["due"]
    digits = "".join(ch for ch in formatted if ch.isdigit())
    assert digits.lstrip("0") == f"{abs(amount):.2f}".replace(".", "").lstrip("0")
    assert formatted == money_format(text, "EUR", language)


def test_no_float_in_template_input() -> None:
    def walk(value: object) -> None:
        assert not isinstance(value, float)
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for document_type in D.SAMPLES:
        walk(
            json.loads(
                json.dumps(document_template_input(D.document_sample(document_type=document_type)))
            )
        )
