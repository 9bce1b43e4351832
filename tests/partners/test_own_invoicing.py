"""Own invoicing, worked by hand (docs/domain.md, "Own invoicing").

Alpenfunk issues its own invoices (pattern AF-{year}-{next|5}, billing day 5, 10 due days)
and sells its own tariff "Alpen Funk 50" (34.50) beside the operator's "Fiber 100" (29.90
retail). With wholesale charges on, the operator bills Alpenfunk's account for the operator
tariffs its customers use, at its partner price of 20.00, on day 1 monthly."""

from __future__ import annotations

from datetime import date

import pytest

from ispbill.billing.run import billing_run_start
from ispbill.core.invariants import invariants_check
from ispbill.invoicing.models import Invoice, InvoiceKind, NumberSequence
from ispbill.partners.models import PartnerMode
from tests.factories import (
    CustomerFactory,
    PartnerPriceFactory,
    ServiceFactory,
    TariffFactory,
    TaxRateFactory,
    partner_with_account,
)

pytestmark = pytest.mark.django_db
MAR5, APR1, APR5 = date(2026, 3, 5), date(2026, 4, 1), date(2026, 4, 5)


@pytest.fixture
def world(home):
    alp = partner_with_account(
        name="Alpenfunk",
        legal_name="Alpenfunk Internet GmbH",
        mode=PartnerMode.OWN_INVOICING,
        billing_day=5,
        payment_due_days=10,
        invoice_number_pattern="AF-{year}-{next|5}",
        wholesale_charges=True,
        discount_bp=3000,
    )
    fiber = TariffFactory(name="Fiber 100", price_minor=2990)
    fiber.available_to.add(alp)
    PartnerPriceFactory(partner=alp, tariff=fiber, price_minor=2000)
    own = TariffFactory(
        partner=alp, name="Alpen Funk 50", price_minor=3450, tax_rate=TaxRateFactory(partner=alp)
    )
    x = CustomerFactory(partner=alp, reference="AX")
    y = CustomerFactory(partner=alp, reference="AY")
    ServiceFactory(customer=x, tariff=fiber, start_date=MAR5)
    ServiceFactory(customer=x, tariff=own, start_date=MAR5)
    ServiceFactory(customer=y, tariff=own, start_date=MAR5)
    direct = CustomerFactory(partner=home, reference="D1")
    ServiceFactory(customer=direct, tariff=fiber, start_date=date(2026, 3, 1))
    return alp, x, y, direct


def test_own_numbering_and_the_operators_sequence_untouched(world, home):
    alp, x, y, direct = world
    billing_run_start(run_date=MAR5)
    ax = Invoice.objects.get(customer=x)
    ay = Invoice.objects.get(customer=y)
    # X: 29.90 + 34.50 = 64.40 net; tax round(6440 x 0.19 = 1223.6) = 12.24; total 76.64.
    assert (ax.issuer_id, ax.number) == (alp.pk, "AF-2026-00001")
    assert (ax.net_minor, ax.tax_minor, ax.total_minor) == (6440, 1224, 7664)
    assert ax.due_date == date(2026, 3, 15)
    assert ax.issuer_snapshot["name"] == "Alpenfunk Internet GmbH"
    # Y: 34.50 net; tax round(655.5) = 6.56; total 41.06.
    assert (ay.number, ay.total_minor) == ("AF-2026-00002", 4106)
    # The operator's only invoice: the direct customer's 1 March one, number 1 of its own
    # sequence ({year}{partner_id|2}{next|6}).
    d = Invoice.objects.get(customer=direct)
    assert d.number == f"2026{home.pk:02d}000001"
    seqs = dict(NumberSequence.objects.values_list("issuer_id", "next_value"))
    assert seqs == {home.pk: 2, alp.pk: 3}

    billing_run_start(run_date=APR5)
    assert sorted(Invoice.objects.filter(issuer=alp).values_list("number", flat=True)) == [
        f"AF-2026-0000{n}" for n in range(1, 5)
    ]


def test_wholesale_invoice_to_the_partners_account_at_partner_prices(world, home):
    alp, _x, _y, _direct = world
    billing_run_start(run_date=MAR5)
    assert not Invoice.objects.filter(customer=alp.account).exists()  # day 1 not reached
    billing_run_start(run_date=APR1)
    inv = Invoice.objects.get(customer=alp.account)
    assert (inv.kind, inv.issuer_id) == (InvoiceKind.WHOLESALE, home.pk)
    # Only the operator tariff used by X, at the partner price 20.00, monthly from day 1:
    # 5-31 March is 27 of 31 days: 2000 x 27 / 31 = 1741.94 -> 17.42; April in advance 20.00.
    # Net 37.42; tax round(3742 x 0.19 = 710.98) = 7.11; total 44.53.
    assert list(
        inv.lines.order_by("position").values_list("period_start", "period_end", "amount_minor")
    ) == [
        (date(2026, 3, 5), date(2026, 3, 31), 1742),
        (date(2026, 4, 1), date(2026, 4, 30), 2000),
    ]
    assert (inv.net_minor, inv.tax_minor, inv.total_minor) == (3742, 711, 4453)
    # Operator numbering: direct March (1), direct April (2) and wholesale (3), gapless.
    assert sorted(Invoice.objects.filter(issuer=home).values_list("number", flat=True)) == [
        f"2026{home.pk:02d}00000{n}" for n in (1, 2, 3)
    ]
    assert invariants_check()[1] == []
