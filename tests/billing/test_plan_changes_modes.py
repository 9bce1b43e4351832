"""Plan changes in every way a customer is billed: an aggregated partner's customer at
partner prices, an own-invoicing partner billed wholesale, a tax-inclusive issuer. Figures
worked by hand (docs/billing.md "Changing plan")."""

from __future__ import annotations

from datetime import date

import pytest

from ispbill.billing.models import Charge
from ispbill.billing.plan_changes import plan_change_request
from ispbill.billing.run import billing_run_start
from ispbill.catalog.models import PartnerPrice
from ispbill.core.invariants import invariants_check
from ispbill.invoicing.models import CreditNote, Invoice, InvoiceLine
from ispbill.partners.models import Partner
from tests.factories import partner_with_account

from .builders import customer, service, tariff

pytestmark = pytest.mark.django_db


def lines(invoice: Invoice) -> list[tuple[str, date | None, int]]:
    return list(
        InvoiceLine.objects.filter(invoice=invoice)
        .order_by("position")
        .values_list("description", "period_start", "amount_minor")
    )


def test_aggregated_customer_at_partner_prices(home):
    """WISP Verbund (aggregated, monthly on the 1st, prepaid) pays 20.00 for Internet 50 and
    32.00 for Internet 100. Its customer moves up on 17 March: 20.00 x 15 / 31 = 9.68 is
    credited on the aggregated invoice of 1 March, 32.00 x 15 / 31 = 15.48 waits for the
    partner's next invoice."""
    wisp = partner_with_account(mode="aggregated")
    slow, fast = tariff(price=3000, name="Internet 50"), tariff(price=4500, name="Internet 100")
    for t, price in ((slow, 2000), (fast, 3200)):
        t.available_to.add(wisp)
        PartnerPrice.objects.create(partner=wisp, tariff=t, price_minor=price)
    c = customer(partner=wisp)
    s = service(c, slow, date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    march = Invoice.objects.get(customer_id=wisp.account_id, billing_date=date(2026, 3, 1))
    assert lines(march) == [("Internet 50", date(2026, 3, 1), 2000)]

    _change, outcome = plan_change_request(
        service=s, tariff=fast, effective=date(2026, 3, 17), today=date(2026, 3, 17)
    )
    assert outcome is not None
    assert [(x.kind, x.amount_minor, x.settled_by) for x in outcome.lines] == [
        ("credit", -968, "credit note"),
        ("charge", 1548, "partner's invoice"),
    ]
    cn = CreditNote.objects.get(invoice=march)
    assert (cn.customer_id, cn.net_minor, cn.tax_minor) == (wisp.account_id, 968, 184)

    billing_run_start(run_date=date(2026, 4, 1))
    april = Invoice.objects.get(customer_id=wisp.account_id, billing_date=date(2026, 4, 1))
    assert lines(april) == [
        ("Internet 100", date(2026, 3, 17), 1548),
        ("Internet 100", date(2026, 4, 1), 3200),
    ]
    assert not Invoice.objects.filter(customer=c).exists()
    assert invariants_check()[1] == []


def test_own_invoicing_partner_billed_wholesale(home):
    """Alpenfunk invoices its customer itself (30.00, then 45.00) and is billed wholesale by
    the operator (20.00, then 32.00). From 17 March both follow: Alpenfunk's credit note of
    14.52 and charge of 21.77 to its customer; the operator's credit note of 9.68 to
    Alpenfunk and a wholesale charge of 15.48."""
    alp = partner_with_account(mode="own_invoicing", wholesale_charges=True)
    slow, fast = tariff(price=3000, name="Internet 50"), tariff(price=4500, name="Internet 100")
    for t, price in ((slow, 2000), (fast, 3200)):
        t.available_to.add(alp)
        PartnerPrice.objects.create(partner=alp, tariff=t, price_minor=price)
    c = customer(partner=alp)
    s = service(c, slow, date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    retail = Invoice.objects.get(customer=c, billing_date=date(2026, 3, 1))
    wholesale = Invoice.objects.get(customer_id=alp.account_id, billing_date=date(2026, 3, 1))
    assert (retail.issuer_id, lines(retail)) == (alp.pk, [("Internet 50", date(2026, 3, 1), 3000)])
    assert (wholesale.issuer_id, wholesale.kind) == (home.pk, "wholesale")

    _change, outcome = plan_change_request(
        service=s, tariff=fast, effective=date(2026, 3, 17), today=date(2026, 3, 17)
    )
    assert outcome is not None
    assert [(x.kind, x.amount_minor, x.wholesale) for x in outcome.lines] == [
        ("credit", -1452, False),
        ("charge", 2177, False),
        ("credit", -968, True),
        ("charge", 1548, True),
    ]
    assert CreditNote.objects.get(invoice=retail).net_minor == 1452
    assert CreditNote.objects.get(invoice=wholesale).net_minor == 968
    s.refresh_from_db()
    assert (s.charged_through, s.wholesale_charged_through) == (date(2026, 4, 1), date(2026, 4, 1))

    billing_run_start(run_date=date(2026, 4, 1))
    april = Invoice.objects.get(customer_id=alp.account_id, billing_date=date(2026, 4, 1))
    assert [amount for _d, _p, amount in lines(april)] == [1548, 3200]
    assert invariants_check()[1] == []


def test_moving_to_the_partners_own_tariff_ends_wholesale_billing(home):
    alp = partner_with_account(mode="own_invoicing", wholesale_charges=True)
    operator = tariff(price=3000, name="Internet 50")
    operator.available_to.add(alp)
    PartnerPrice.objects.create(partner=alp, tariff=operator, price_minor=2000)
    own = tariff(owner=alp, price=3500, name="Alpen 60")
    c = customer(partner=alp)
    s = service(c, operator, date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    plan_change_request(service=s, tariff=own, effective=date(2026, 3, 17), today=date(2026, 3, 17))
    # The operator gives back 15 of 31 days of 20.00 and bills nothing more for it.
    credit = Charge.objects.get(service=s, kind="wholesale", credit_of__isnull=False)
    assert credit.amount_minor == -968
    billing_run_start(run_date=date(2026, 4, 1))
    assert not Invoice.objects.filter(
        customer_id=alp.account_id, billing_date=date(2026, 4, 1)
    ).exists()
    assert invariants_check()[1] == []


def test_tax_inclusive_issuer(home):
    """Prices include 19 % VAT: 30.00 to 45.00 gross from 17 March. The credit note of
    14.52 gross holds 14.52 x 19 / 119 = 2.318 -> 2.32 VAT; April's invoice 21.77 + 45.00 =
    66.77 gross, 66.77 x 19 / 119 = 10.6607 -> 10.66 VAT, 56.11 net."""
    Partner.objects.filter(pk=home.pk).update(prices_include_tax=True)
    c = customer()
    slow, fast = tariff(price=3000), tariff(price=4500)
    s = service(c, slow, date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))
    plan_change_request(
        service=s, tariff=fast, effective=date(2026, 3, 17), today=date(2026, 3, 17)
    )
    cn = CreditNote.objects.get(customer=c)
    assert (cn.net_minor, cn.tax_minor, cn.total_minor) == (1220, 232, 1452)
    billing_run_start(run_date=date(2026, 4, 1))
    april = Invoice.objects.get(customer=c, billing_date=date(2026, 4, 1))
    assert (april.net_minor, april.tax_minor, april.total_minor) == (5611, 1066, 6677)
    assert invariants_check()[1] == []


def test_discounted_service_keeps_its_discount(home):
    """50 % off until 20 March: 30.00 x (31 - 20 x 0.5) / 31 = 20.32 for March. From 17 March
    (15 days, 4 of them discounted) 30.00 x (15 - 4 x 0.5) / 31 = 12.58 is given back and
    45.00 x (15 - 2) / 31 = 18.87 charged."""
    c = customer()
    slow, fast = tariff(price=3000), tariff(price=4500)
    s = service(c, slow, date(2026, 3, 1), discount_bp=5000, discount_until=date(2026, 3, 20))
    billing_run_start(run_date=date(2026, 3, 1))
    assert Invoice.objects.get(customer=c).net_minor == 2032
    _change, outcome = plan_change_request(
        service=s, tariff=fast, effective=date(2026, 3, 17), today=date(2026, 3, 17)
    )
    assert outcome is not None
    assert [x.amount_minor for x in outcome.lines] == [-1258, 1887]
