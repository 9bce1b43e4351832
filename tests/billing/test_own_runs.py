"""Own runs of own-invoicing partners, a run's figures per issuer and recipient and per
billing date, and catch-up (issue 19).

One customer in each mode, billed monthly on the 1st, every tariff at 19 % VAT:

- Ona, the operator's own customer: 30.00 -> invoice by Main of 35.70;
- Cid, CityNet's (percentage): 30.00 -> invoice by Main to Cid of 35.70;
- Wes, WISP's (aggregated, monthly on the 1st, no discount): 30.00 held -> Main's
  aggregated invoice to WISP's account of 35.70;
- Alma, Alpenfunk's (own invoicing, its own tariff of 20.00): invoice by Alpenfunk of 23.80.
  Alpenfunk runs its own billing (the default): the operator's run leaves Alma out."""

from __future__ import annotations

from datetime import date

import pytest

from ispbill.billing.models import BillingRun
from ispbill.billing.run import billing_run_figures, billing_run_start
from ispbill.dunning.daily import daily_work
from ispbill.invoicing.models import Invoice, InvoiceKind
from ispbill.partners.models import Partner, PartnerMode
from tests.billing.builders import customer, service, tariff
from tests.factories import partner_with_account

pytestmark = pytest.mark.django_db
JAN1, APR1 = date(2026, 1, 1), date(2026, 4, 1)


@pytest.fixture
def world(home):
    fiber = tariff(price=3000)
    citynet = Partner.objects.create(name="CityNet", mode=PartnerMode.PERCENTAGE)
    wisp = partner_with_account(name="WISP", mode=PartnerMode.AGGREGATED, aggregation_day=1)
    alp = Partner.objects.create(name="Alpenfunk", mode=PartnerMode.OWN_INVOICING)
    assert alp.runs_own_billing  # the default: its own runs
    people = {
        "Ona": customer(name="Ona"),
        "Cid": customer(citynet, name="Cid"),
        "Wes": customer(wisp, name="Wes"),
        "Alma": customer(alp, name="Alma"),
    }
    for name in ("Ona", "Cid", "Wes"):
        service(people[name], fiber, APR1)
    service(people["Alma"], tariff(alp, price=2000), APR1)
    return {"alp": alp, "wisp": wisp, **people}


def groups(stats) -> dict[tuple[str, str], tuple[int, int]]:
    return {k: (f["invoices"], f["total_minor"]) for k, f in stats.groups.items()}


def test_the_operators_run_leaves_out_a_partner_that_runs_its_own(world):
    preview = billing_run_start(run_date=APR1, dry_run=True)
    # Each invoice under its issuer and recipient: the aggregated invoice under WISP, not
    # under "Main"'s own customers.
    assert groups(preview.stats) == {
        ("Main", "Own customers"): (1, 3570),
        ("Main", "Customers of CityNet"): (1, 3570),
        ("Main", "WISP (aggregated invoice)"): (1, 3570),
    }
    assert preview.stats.per_partner["WISP"]["invoices"] == 1
    assert preview.stats.per_partner["Main"]["invoices"] == 1
    run = billing_run_start(run_date=APR1)
    assert groups(billing_run_figures(run.run_id)) == groups(preview.stats)
    assert not Invoice.objects.filter(customer=world["Alma"]).exists()

    own_preview = billing_run_start(run_date=APR1, dry_run=True, issuer=world["alp"])
    assert groups(own_preview.stats) == {("Alpenfunk", "Own customers"): (1, 2380)}
    own = billing_run_start(run_date=APR1, issuer=world["alp"])
    invoice = Invoice.objects.get(customer=world["Alma"])
    assert (invoice.billing_run_id, invoice.issuer_id, invoice.total_minor) == (
        own.run_id,
        world["alp"].pk,
        2380,
    )
    assert BillingRun.objects.get(pk=own.run_id).scope_partner_id == world["alp"].pk
    assert groups(billing_run_figures(own.run_id)) == {("Alpenfunk", "Own customers"): (1, 2380)}


def test_a_partner_set_to_go_with_the_operators_runs_is_billed_by_them(world):
    Partner.objects.filter(pk=world["alp"].pk).update(runs_own_billing=False)
    preview = billing_run_start(run_date=APR1, dry_run=True)
    assert groups(preview.stats)[("Alpenfunk", "Own customers")] == (1, 2380)
    assert preview.stats.invoices_issued == 4


def test_the_daily_work_bills_each_own_run_partner_in_a_run_of_its_own(world):
    result = daily_work(today=APR1)
    assert result["invoices"] == 4  # 3 by the operator's run, 1 by Alpenfunk's
    operator, own = BillingRun.objects.order_by("pk")
    assert (operator.scope_partner_id, operator.invoices_issued) == (None, 3)
    assert (own.scope_partner_id, own.invoices_issued) == (world["alp"].pk, 1)
    assert operator.started_by == own.started_by == "scheduler"


def test_a_catch_up_shows_one_invoice_per_billing_date(home):
    """Ona's service started on 1 January and was never billed: a run on 1 April bills
    1 January, 1 February, 1 March and 1 April, one invoice of 35.70 each (142.80)."""
    ona = customer(name="Ona")
    service(ona, tariff(price=3000), JAN1)
    preview = billing_run_start(run_date=APR1, dry_run=True)
    assert preview.stats.caught_up == 1
    assert {d: (f["invoices"], f["totals"]) for d, f in preview.stats.per_date.items()} == {
        date(2026, m, 1): (1, {"EUR": 3570}) for m in (1, 2, 3, 4)
    }
    assert dict(preview.stats.totals) == {"EUR": 14280}
    run = billing_run_start(run_date=APR1)
    assert sorted(billing_run_figures(run.run_id).per_date) == [
        date(2026, m, 1) for m in (1, 2, 3, 4)
    ]
    assert Invoice.objects.filter(customer=ona, kind=InvoiceKind.RECURRING).count() == 4
    # A month later one billing date: no catch-up.
    assert billing_run_start(run_date=date(2026, 5, 1), dry_run=True).stats.caught_up == 0
