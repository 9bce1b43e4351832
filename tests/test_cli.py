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


def test_demo_is_current_by_default(capsys):
    """`ispbill demo` bills the four whole months before this one, so on any day the demo's
    receivables, dunning and statements are current, and this month's billing dates are left
    for the user to run."""
    from django.utils.timezone import localdate

    from ispbill.core.periods import add_months
    from ispbill.invoicing.models import Invoice
    from ispbill.payments.models import Payment

    today = localdate()
    this_month = today.replace(day=1)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert f"{add_months(this_month, -4):%B %Y} to {add_months(this_month, -1):%B %Y}" in out
    billed = sorted({d for d in Invoice.objects.values_list("billing_date", flat=True)})
    assert billed[0] == add_months(this_month, -4)
    assert add_months(this_month, -1) <= billed[-1] < this_month
    assert not Payment.objects.filter(date__gt=today).exists()


def test_demo_can_be_pinned_and_refuses_a_future_start(capsys):
    from ispbill.invoicing.models import Invoice

    assert main(["demo", "--start", "2099-01"]) == 2
    assert "in the future" in capsys.readouterr().err
    assert not Invoice.objects.exists()
    assert main(["demo", "--start", "2026-01"]) == 0
    billed = {d for d in Invoice.objects.values_list("billing_date", flat=True)}
    assert min(billed).isoformat() == "2026-01-01" and max(billed).isoformat() < "2026-05-01"
    assert "January 2026 to April 2026" in capsys.readouterr().out


def _an_hour_later():  # type: ignore[no-untyped-def]
    """The clock moved past ``PDF_MISSING_GRACE`` after now (simulated, not slept)."""
    from datetime import timedelta

    import time_machine
    from django.conf import settings
    from django.utils import timezone

    later = timezone.now() + timedelta(seconds=settings.PDF_MISSING_GRACE + 60)
    return time_machine.travel(later, tick=False)


@pytest.mark.django_db(transaction=True)
def test_the_demo_stores_its_pdfs_so_the_check_passes_an_hour_later(capsys, settings, tmp_path):
    """`ispbill demo` leaves a consistent installation: every invoice and credit note of its
    history has its stored PDF, so `documents.pdf_missing` passes also once its grace period
    has elapsed, and no run page says "to render". Committed as the command commits, so what
    runs after commit (events of the history) has run when the check looks an hour later."""
    from ispbill.billing.models import BillingRun
    from ispbill.invoicing.checks import check_pdf_missing
    from ispbill.invoicing.models import CreditNote, Invoice
    from ispbill.invoicing.sending import billing_run_documents

    settings.MEDIA_ROOT = tmp_path
    settings.RENDER_PDFS_ON_ISSUE = True
    assert main(["demo", "--start", "2026-01"]) == 0
    out = capsys.readouterr().out
    invoices, notes = Invoice.objects.count(), CreditNote.objects.count()
    assert invoices > 200 and notes == 1
    assert f"{invoices + notes}/{invoices + notes} PDFs of the history stored" in out
    assert f"Stored {invoices + notes} PDFs" in out
    assert not Invoice.objects.filter(pdf="").exists()
    assert not CreditNote.objects.filter(pdf="").exists()
    path = Invoice.objects.order_by("pk").values_list("pdf", flat=True).first()
    assert (tmp_path / str(path)).read_bytes().startswith(b"%PDF-")
    for run in BillingRun.objects.all():
        assert billing_run_documents(run.pk)["pdfs_pending"] == 0, run.pk
    with _an_hour_later():
        assert check_pdf_missing() == []
        assert main(["check"]) == 0
    assert "checks passed" in capsys.readouterr().out


def test_demo_data_without_its_pdfs_breaches_the_check_an_hour_later(settings, tmp_path):
    """What the test above guards against: the demo's data alone (`demo_load`, as the web
    tests load it) has no stored PDFs, which the check reports once the grace period is over."""
    from ispbill.demo import demo_load
    from ispbill.invoicing.checks import check_pdf_missing

    settings.MEDIA_ROOT = tmp_path
    settings.RENDER_PDFS_ON_ISSUE = True
    demo_load()
    assert check_pdf_missing() == []  # within the grace period
    with _an_hour_later():
        (invoices, notes) = check_pdf_missing()
    assert invoices.check == "documents.pdf_missing" and invoices.ids[0].startswith("invoice:")
    assert notes.ids and notes.ids[0].startswith("credit_note:")
