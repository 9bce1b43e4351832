import pytest

from ispbill.cli import main
from ispbill.customers.models import Customer
from ispbill.partners.models import Partner

pytestmark = pytest.mark.django_db


def test_demo_is_idempotent(capsys):
    assert main(["demo"]) == 0
    partners, customers = Partner.objects.count(), Customer.objects.count()
    assert partners == 4
    assert customers >= 120
    assert {p.mode for p in Partner.objects.all()} == {
        "direct",
        "percentage",
        "own_invoicing",
        "aggregated",
    }
    # The ISP collects by direct debit: its creditor id and a dozen of its customers' mandates.
    from ispbill.sepa.models import CreditorSettings, Mandate

    home = Partner.objects.get(is_home=True)
    assert CreditorSettings.objects.get(partner=home).creditor_id == "DE98ZZZ09999999999"
    assert Mandate.objects.filter(customer__partner=home, status="active").count() == 12
    assert "12 SEPA mandates" in capsys.readouterr().out
    assert main(["demo"]) == 0
    assert (Partner.objects.count(), Customer.objects.count()) == (partners, customers)
    out = capsys.readouterr().out
    assert "already present" in out
    assert "admin" in out and "ispbill-demo" in out


def test_check_passes_on_demo_data(capsys):
    main(["demo"])
    assert main(["check"]) == 0
    assert "checks passed" in capsys.readouterr().out


def test_check_reports_a_breach_with_ids_and_fails(capsys, home):
    Partner.objects.filter(pk=home.pk).update(invoice_number_pattern="{year}")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "BREACH" in out and f"partner:{home.pk}" in out


def test_unknown_command_exits_non_zero():
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2
