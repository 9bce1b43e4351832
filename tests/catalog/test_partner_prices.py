"""Selling: a reseller's price of each operator tariff, its availability, and the default a
new reseller gets (docs/reseller-modes.md, "Selling and prices"). Numbers worked by hand."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from ispbill.billing import modes
from ispbill.billing.changes import partner_create
from ispbill.catalog import pricing
from ispbill.catalog.models import PartnerPrice, Tariff
from ispbill.catalog.selectors import partner_pays_wholesale, partner_price_list
from ispbill.catalog.services import (
    PriceListEntry,
    partner_price_list_save,
    partner_tariffs_make_all_available,
)
from ispbill.core.errors import DomainValidationError
from ispbill.core.models import AuditEvent
from ispbill.partners.models import PartnerMode
from tests.factories import PartnerFactory, PartnerPriceFactory, TariffFactory, home_partner

pytestmark = pytest.mark.django_db


def _row(partner, tariff):  # type: ignore[no-untyped-def]
    (row,) = [r for r in partner_price_list(partner=partner) if r.tariff.pk == tariff.pk]
    return row


def test_billing_and_the_price_list_share_one_rule():
    assert modes.wholesale_price_minor is pricing.wholesale_price_minor


@pytest.mark.parametrize(
    ("retail", "discount_bp", "expected"),
    [
        (3990, 1000, 3591),  # 39.90 less 10 % = 35.91
        (2999, 1250, 2624),  # 29.99 × 0.875 = 26.24125 -> 26.24
        (1234, 2500, 926),  # 12.34 × 0.75 = 9.255 -> 9.26 (half up)
        (3990, 0, 3990),
        (3990, 10000, 0),
    ],
)
def test_discount_off_retail(retail, discount_bp, expected):  # type: ignore[no-untyped-def]
    assert (
        pricing.wholesale_price_minor(
            retail_minor=retail, partner_price_minor=None, discount_bp=discount_bp
        )
        == expected
    )


def test_the_list_prices_a_discount_and_a_partner_price(home):  # type: ignore[no-untyped-def]
    wisp = PartnerFactory(name="WISP", mode=PartnerMode.AGGREGATED, discount_bp=1000)
    fiber = TariffFactory(name="Fiber 250", price_minor=3990)
    business = TariffFactory(name="Business (quarterly)", price_minor=24900, period_months=3)
    fiber.available_to.add(wisp)
    PartnerPriceFactory(partner=wisp, tariff=business, price_minor=8700)
    # Another reseller's price of the same tariff changes nothing for WISP.
    PartnerPriceFactory(partner=PartnerFactory(mode=PartnerMode.AGGREGATED), tariff=fiber)

    f = _row(wisp, fiber)
    assert (f.available, f.partner_price_minor, f.price_minor, f.source) == (
        True,
        None,
        3591,
        "discount",
    )
    b = _row(wisp, business)
    # The partner price wins over the 10 % discount (224.10).
    assert (b.available, b.partner_price_minor, b.price_minor, b.source) == (
        False,
        8700,
        8700,
        "partner_price",
    )
    assert [r.tariff.name for r in partner_price_list(partner=wisp, available_only=True)] == [
        "Fiber 250"
    ]


def test_only_operator_tariffs_are_listed(home):  # type: ignore[no-untyped-def]
    own = PartnerFactory(mode=PartnerMode.OWN_INVOICING)
    TariffFactory(name="Own plan", partner=own)
    TariffFactory(name="Operator plan")
    assert [r.tariff.name for r in partner_price_list(partner=own)] == ["Operator plan"]


@pytest.mark.parametrize(
    ("mode", "wholesale_charges", "expected"),
    [
        (PartnerMode.AGGREGATED, False, True),
        (PartnerMode.OWN_INVOICING, True, True),
        (PartnerMode.OWN_INVOICING, False, False),
        (PartnerMode.PERCENTAGE, False, False),
    ],
)
def test_who_is_billed_at_partner_prices(mode, wholesale_charges, expected, home):  # type: ignore[no-untyped-def]
    partner = PartnerFactory(mode=mode, wholesale_charges=wholesale_charges)
    assert partner_pays_wholesale(partner) is expected


def test_save_availability_and_prices(home):  # type: ignore[no-untyped-def]
    wisp = PartnerFactory(name="WISP", mode=PartnerMode.AGGREGATED, discount_bp=2500)
    a, b, c = (TariffFactory(name=n, price_minor=4000) for n in ("A", "B", "C"))
    a.available_to.add(wisp)
    PartnerPriceFactory(partner=wisp, tariff=a, price_minor=2000)

    result = partner_price_list_save(
        partner=wisp,
        entries=[
            PriceListEntry(tariff_id=a.pk, available=False, price_minor=None),
            PriceListEntry(tariff_id=b.pk, available=True, price_minor=2900),
            PriceListEntry(tariff_id=c.pk, available=True, price_minor=None),
        ],
        actor="tests",
    )
    assert result == {"made_available": 2, "made_unavailable": 1, "prices": 2}
    assert set(wisp.available_tariffs.values_list("name", flat=True)) == {"B", "C"}
    assert dict(
        PartnerPrice.objects.filter(partner=wisp).values_list("tariff__name", "price_minor")
    ) == {"B": 2900}
    assert _row(wisp, c).price_minor == 3000  # 40.00 less 25 %
    actions = sorted(AuditEvent.objects.values_list("action", flat=True))
    assert actions == ["partner.tariffs_available", "partner_price.cleared", "partner_price.set"]
    event = AuditEvent.objects.get(action="partner.tariffs_available")
    assert event.changes == {"added": [b.pk, c.pk], "removed": [a.pk]}
    assert event.partner_id == wisp.pk

    # The same list again changes nothing and records nothing.
    again = partner_price_list_save(
        partner=wisp,
        entries=[
            PriceListEntry(tariff_id=b.pk, available=True, price_minor=2900),
            PriceListEntry(tariff_id=c.pk, available=True, price_minor=None),
        ],
    )
    assert again == {"made_available": 0, "made_unavailable": 0, "prices": 0}
    assert AuditEvent.objects.count() == 3


def test_a_bad_line_saves_nothing(home):  # type: ignore[no-untyped-def]
    wisp = PartnerFactory(mode=PartnerMode.AGGREGATED)
    own = PartnerFactory(mode=PartnerMode.OWN_INVOICING)
    good = TariffFactory(price_minor=4000)
    foreign = TariffFactory(partner=own)
    with pytest.raises(DomainValidationError) as err:
        partner_price_list_save(
            partner=wisp,
            entries=[
                PriceListEntry(tariff_id=good.pk, available=True, price_minor=1000),
                PriceListEntry(tariff_id=foreign.pk, available=True, price_minor=None),
            ],
        )
    assert set(err.value.fields) == {f"tariff_{foreign.pk}"}
    with pytest.raises(DomainValidationError) as err:
        partner_price_list_save(
            partner=wisp,
            entries=[PriceListEntry(tariff_id=good.pk, available=True, price_minor=-1)],
        )
    assert set(err.value.fields) == {f"price_{good.pk}"}
    assert not wisp.available_tariffs.exists()
    assert not PartnerPrice.objects.exists()
    assert not AuditEvent.objects.exists()


def test_the_operator_has_no_price_list(home):  # type: ignore[no-untyped-def]
    t = TariffFactory()
    with pytest.raises(DomainValidationError):
        partner_price_list_save(
            partner=home_partner(),
            entries=[PriceListEntry(tariff_id=t.pk, available=True, price_minor=100)],
        )
    with pytest.raises(DomainValidationError):
        partner_tariffs_make_all_available(partner=home_partner())


def test_make_all_available_takes_active_operator_tariffs(home):  # type: ignore[no-untyped-def]
    citynet = PartnerFactory(mode=PartnerMode.PERCENTAGE)
    own = PartnerFactory(mode=PartnerMode.OWN_INVOICING)
    on_sale = [TariffFactory(name=f"T{i}") for i in range(3)]
    on_sale[0].available_to.add(citynet)
    TariffFactory(name="Retired", is_active=False)
    TariffFactory(name="Own", partner=own)

    assert partner_tariffs_make_all_available(partner=citynet, actor="tests") == 2
    assert set(citynet.available_tariffs.values_list("name", flat=True)) == {"T0", "T1", "T2"}
    assert partner_tariffs_make_all_available(partner=citynet) == 0
    assert AuditEvent.objects.filter(action="partner.tariffs_available").count() == 1


@pytest.mark.parametrize(
    ("mode", "extra", "gets_all"),
    [
        (PartnerMode.PERCENTAGE, {}, True),
        (PartnerMode.AGGREGATED, {}, True),
        (PartnerMode.OWN_INVOICING, {"wholesale_charges": True}, True),
        (PartnerMode.OWN_INVOICING, {}, False),
    ],
)
def test_a_new_partner_gets_the_default(mode, extra, gets_all, home):  # type: ignore[no-untyped-def]
    TariffFactory(name="Fiber 100")
    TariffFactory(name="Fiber 250")
    TariffFactory(name="Retired", is_active=False)
    partner = partner_create(mode=mode, name="New reseller", actor="tests", **extra)
    names = set(Tariff.objects.filter(available_to=partner).values_list("name", flat=True))
    assert names == ({"Fiber 100", "Fiber 250"} if gets_all else set())


def test_partner_price_set_still_refuses_a_partner_tariff(home):  # type: ignore[no-untyped-def]
    from ispbill.catalog.services import partner_price_set

    own = PartnerFactory(mode=PartnerMode.OWN_INVOICING)
    with pytest.raises(ValidationError):
        partner_price_set(
            partner=PartnerFactory(mode=PartnerMode.AGGREGATED),
            tariff=TariffFactory(partner=own),
            price_minor=100,
        )


def test_the_cli_lists_and_makes_all_available(home, capsys):  # type: ignore[no-untyped-def]
    from ispbill.cli import main

    wisp = PartnerFactory(name="WISP", mode=PartnerMode.AGGREGATED, discount_bp=1000)
    fiber = TariffFactory(name="Fiber 250", price_minor=3990)
    quarterly = TariffFactory(name="Quarterly", price_minor=24900, period_months=3)
    PartnerPriceFactory(partner=wisp, tariff=quarterly, price_minor=8700)
    assert main(["partner-tariffs", "--partner", str(wisp.pk)]) == 0
    out = capsys.readouterr().out
    assert "billed at these prices" in out
    assert "no  Fiber 250" in out and "35.91 EUR (discount)" in out
    assert "87.00 EUR (partner price)" in out
    assert main(["partner-tariffs", "--partner", str(wisp.pk), "--make-all-available"]) == 0
    out = capsys.readouterr().out
    assert "2 tariffs made available to WISP." in out and "yes Fiber 250" in out
    assert set(wisp.available_tariffs.all()) == {fiber, quarterly}
    assert main(["partner-tariffs", "--partner", str(home.pk)]) == 2
    assert "not a reseller" in capsys.readouterr().err


def test_the_run_bills_what_the_price_list_shows(home):  # type: ignore[no-untyped-def]
    """WISP, aggregated on day 1 monthly, 10 % discount; Fiber 250 at 39.90 (no partner
    price: 35.91) and Fiber 100 at 29.90 with a partner price of 21.00. A sub-customer on
    both from 1 March 2026: the run of 1 March holds exactly the prices of WISP's list."""
    from datetime import date

    from ispbill.billing.models import Charge
    from ispbill.billing.run import billing_run_start
    from tests.billing.builders import customer, service, tariff
    from tests.factories import partner_with_account

    wisp = partner_with_account(
        mode=PartnerMode.AGGREGATED, name="WISP", discount_bp=1000, aggregation_day=1
    )
    f250 = tariff(home, price=3990, name="Fiber 250")
    f100 = tariff(home, price=2990, name="Fiber 100")
    partner_price_list_save(
        partner=wisp,
        entries=[
            PriceListEntry(tariff_id=f250.pk, available=True, price_minor=None),
            PriceListEntry(tariff_id=f100.pk, available=True, price_minor=2100),
        ],
    )
    sub = customer(wisp)
    service(sub, f250, date(2026, 3, 1))
    service(sub, f100, date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    billed = {
        ch.service.tariff_id: ch.unit_price_minor
        for ch in Charge.objects.filter(customer=sub).select_related("service")
    }
    listed = {r.tariff.pk: r.price_minor for r in partner_price_list(partner=wisp)}
    assert billed == {f250.pk: 3591, f100.pk: 2100}
    assert listed == billed
