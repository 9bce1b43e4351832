"""The CLI's runs (issue 19): dates after today refused; `dunning --dry-run` prints the
same preview the web shows, and the run then does exactly it; an own-invoicing partner's
own billing and dunning with --partner.

Alice (home) and Alma (Alpenfunk, own invoicing, runs its own billing): one invoice each on
1 March 2026, Alice 30.00 + 19 % = 35.70, Alma 20.00 + 19 % = 23.80, both due 15 March
(14 days). On 10 April both are 26 days late: past the blocking period of 10 days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine

from ispbill.cli import main
from ispbill.customers.models import Customer, CustomerStatus
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import Partner, PartnerMode
from tests.billing.builders import customer, service, tariff

pytestmark = pytest.mark.django_db
MAR1 = date(2026, 3, 1)


@pytest.fixture
def world(home):
    alp = Partner.objects.create(name="Alpenfunk", mode=PartnerMode.OWN_INVOICING)
    alice, alma = customer(name="Alice"), customer(alp, name="Alma")
    service(alice, tariff(price=3000), MAR1)
    service(alma, tariff(alp, price=2000), MAR1)
    return alp, alice, alma


def test_dates_after_today_are_refused(world, capsys):
    with time_machine.travel(date(2026, 3, 10)):
        assert main(["bill", "--date", "2026-03-11"]) == 2
        assert "cannot be dated in the future" in capsys.readouterr().err
        assert main(["bill", "--date", "2026-03-11", "--dry-run"]) == 2
        assert main(["dunning", "--date", "2026-03-11"]) == 2
        assert "cannot be dated in the future" in capsys.readouterr().err
    assert not Invoice.objects.exists()


def test_bill_leaves_out_a_partner_that_runs_its_own_and_bills_it_with_partner(world, capsys):
    alp, alice, alma = world
    assert main(["bill", "--date", "2026-03-01", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Main -> Own customers" in out and "35.70" in out and "23.80" not in out
    assert "2026-03-01       1 invoices  35.70 EUR" in out
    assert main(["bill", "--date", "2026-03-01"]) == 0
    assert list(Invoice.objects.values_list("customer_id", flat=True)) == [alice.pk]
    assert main(["bill", "--date", "2026-03-01", "--partner", str(alp.pk), "-v"]) == 0
    assert "Alpenfunk -> Own customers" in capsys.readouterr().out
    assert Invoice.objects.get(customer=alma).total_minor == 2380
    home_id = Partner.objects.get(is_home=True).pk
    assert main(["bill", "--date", "2026-03-01", "--partner", str(home_id)]) == 2
    assert "not an own-invoicing partner" in capsys.readouterr().err


def test_dunning_dry_run_prints_what_the_run_then_does(world, capsys):
    alp, alice, alma = world
    main(["bill", "--date", "2026-03-01"])
    main(["bill", "--date", "2026-03-01", "--partner", str(alp.pk)])
    capsys.readouterr()
    assert main(["dunning", "--date", "2026-04-10", "--dry-run"]) == 0
    preview = capsys.readouterr().out
    assert "dry run (nothing written): would block 1, deactivate 0" in preview
    assert f"block              {alice.reference}" in preview
    assert "26 days overdue, past the blocking period of 10 days" in preview
    assert Customer.objects.get(pk=alice.pk).status == CustomerStatus.ACTIVE
    assert main(["dunning", "--date", "2026-04-10"]) == 0
    assert capsys.readouterr().out.startswith("Dunning: 1 blocked, 0 deactivated")
    assert Customer.objects.get(pk=alice.pk).status == CustomerStatus.BLOCKED
    assert Customer.objects.get(pk=alma.pk).status == CustomerStatus.ACTIVE  # its own
    assert main(["dunning", "--date", "2026-04-10", "--partner", str(alp.pk), "-v"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Dunning: 1 blocked") and alma.reference in out
    assert Customer.objects.get(pk=alma.pk).status == CustomerStatus.BLOCKED


def test_a_day_in_the_past_is_fine(world):
    yesterday = date.today() - timedelta(days=1)  # noqa: DTZ011
    assert main(["dunning", "--date", yesterday.isoformat(), "--dry-run"]) == 0
