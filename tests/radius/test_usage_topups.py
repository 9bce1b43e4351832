"""Top-ups, alert e-mails and rollover with hand-worked numbers (docs/usage.md): radacct rows
written as FreeRADIUS writes them, collected by ``usage_collect``."""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail
from pyrad import packet

from ispbill.billing.run import billing_run_start
from ispbill.core.audit import AuditEvent
from ispbill.invoicing.models import EmailDelivery, InvoiceLine
from ispbill.radius.models import RadiusCredential, UsageAlert, UsageRollover, UsageTopUp
from ispbill.radius.services import nas_create
from ispbill.radius.topups import TopUpError, usage_topup_buy, usage_topup_quote
from ispbill.radius.usage import rollover_bytes, usage_collect, usage_month
from ispbill.subscriptions.models import OneTimeCharge
from tests.radius.builders import attrs, internet_customer
from tests.radius.test_coa import NasListener
from tests.radius.test_usage import acct, at

pytestmark = pytest.mark.django_db
GB = 10**9


def capped_50(username: str = "jane", **tariff_fields):  # type: ignore[no-untyped-def]
    """A service on 50 GB a month, throttled to 1/0.5 Mbit/s, packs of 10 GB for 5.00."""
    c, s, cred = internet_customer(username)
    t = s.tariff
    t.included_gb = 50
    t.cap_action = "throttle"
    t.throttle_download_kbps = 1000
    t.throttle_upload_kbps = 500
    t.topup_gb = 10
    t.topup_price_minor = 500
    for k, v in tariff_fields.items():
        setattr(t, k, v)
    t.save()
    return c, s, cred


def test_a_10_gb_top_up_moves_the_cap_from_50_to_60_gb(home):
    _c, s, cred = capped_50()
    acct("T", octets_out=45 * GB, start=at(3), update=at(5, 12))
    usage_collect(now=at(5, 13))
    result = usage_topup_buy(service=s, packs=1, channel="staff", today=date(2026, 4, 5))
    assert not result.cap_lifted  # it was not capped
    assert usage_month(s, today=date(2026, 4, 5))["allowance_bytes"] == 60 * GB
    # 55 GB: over the included 50, under 60: not capped.
    acct("T", octets_out=55 * GB, start=at(3), update=at(8, 12))
    assert usage_collect(now=at(8, 13)).capped == 0
    # 60 GB: the raised allowance is used up.
    acct("T", octets_out=60 * GB, start=at(3), update=at(9, 12))
    assert usage_collect(now=at(9, 13)).capped == 1
    cred.refresh_from_db()
    assert cred.capped == "throttle"
    # The one-time charge: 1 × 5.00, dated the day bought, for the service, VAT of the tariff.
    charge = OneTimeCharge.objects.get()
    assert (charge.quantity, charge.unit_price_minor, charge.charge_date) == (
        1,
        500,
        date(2026, 4, 5),
    )
    assert charge.description == f"Top-up 10 GB, 1–30 April 2026 ({s.tariff.name})"
    assert charge.service_id == s.pk and charge.tax_rate_id == s.tariff.tax_rate_id
    assert AuditEvent.objects.filter(action="usage.topup_bought").count() == 1


def test_top_ups_are_billed_on_the_next_invoice_with_vat(home):
    _c, s, _cred = capped_50()
    usage_topup_buy(service=s, packs=3, channel="customer", today=date(2026, 4, 20))
    assert UsageTopUp.objects.get().gigabytes == 30
    billing_run_start(run_date=date(2026, 5, 1))
    line = InvoiceLine.objects.get(description__startswith="Top-up")
    # 3 packs × 5.00 = 15.00 net; 19 % VAT = 2.85.
    assert (line.quantity, line.unit_price_minor, line.amount_minor) == (3, 500, 1500)
    assert line.description.startswith("Top-up 3 × 10 GB, 1–30 April 2026")
    assert line.tax_rate_bp == 1900
    invoice = line.invoice
    # One VAT group at 19 % of whole euros (the service's months and the 15.00): exact.
    assert invoice.net_minor % 100 == 0
    assert invoice.tax_minor * 100 == invoice.net_minor * 19


def test_overage_counts_top_ups_into_the_allowance(home):
    _c, s, _cred = capped_50(cap_action="", overage_price_minor=200)
    usage_topup_buy(service=s, packs=1, channel="staff", today=date(2026, 4, 10))
    # 62.5 GB used of 50 + 10: 2.5 GB over → 3 started GB × 2.00.
    acct("O", octets_out=62_500_000_000, start=at(20), stop=at(28))
    usage_collect(now=at(1, 0, 30, month=5))
    overage = OneTimeCharge.objects.get(description__startswith="Overage")
    assert (overage.quantity, overage.unit_price_minor) == (3, 200)


def test_a_throttled_service_topped_up_is_restored_by_coa(
    home, django_capture_on_commit_callbacks, settings
):
    settings.RADIUS_COA_TIMEOUT = 2
    listener = NasListener(secret=b"nas-secret")
    try:
        nas_create(name="bras1", address="127.0.0.1", secret="nas-secret", coa_port=listener.port)
        _c, s, cred = capped_50()
        acct("C", octets_out=52 * GB, start=at(10), update=at(12, 13))
        with django_capture_on_commit_callbacks(execute=True):
            assert usage_collect(now=at(12, 14)).capped == 1
        assert listener.received[-1].attributes["Mikrotik-Rate-Limit"] == ["500k/1000k"]
        quote = usage_topup_quote(service=s, packs=1, today=date(2026, 4, 12))
        assert quote.lifts_cap and quote.allowance_after == 60 * GB
        with django_capture_on_commit_callbacks(execute=True):
            result = usage_topup_buy(
                service=s, packs=1, channel="customer", today=date(2026, 4, 12)
            )
        assert result.cap_lifted
        coa = listener.received[-1]
        assert len(listener.received) == 2
        assert coa.verified and coa.code == packet.CoARequest
        assert coa.attributes["Mikrotik-Rate-Limit"] == ["10000k/50000k"]
        assert coa.attributes["Acct-Session-Id"] == ["C"]
        assert attrs("jane")["Mikrotik-Rate-Limit"] == "10000k/50000k"
        cred.refresh_from_db()
        assert cred.capped == ""
        # The next collection keeps it open (52 < 60 GB) and sends nothing.
        with django_capture_on_commit_callbacks(execute=True):
            assert usage_collect(now=at(12, 15)).capped == 0
        assert len(listener.received) == 2
    finally:
        listener.close()


def test_a_top_up_too_small_keeps_the_block(home):
    _c, s, cred = capped_50(cap_action="block")
    acct("B", octets_out=62 * GB, start=at(10), update=at(12, 13))
    usage_collect(now=at(12, 14))
    assert attrs("jane") == {"Auth-Type": "Reject"}
    quote = usage_topup_quote(service=s, packs=1, today=date(2026, 4, 12))
    assert quote.stays_capped
    assert not usage_topup_buy(
        service=s, packs=1, channel="staff", today=date(2026, 4, 12)
    ).cap_lifted
    cred.refresh_from_db()
    assert cred.capped == "block"
    # A second pack: 62 < 70 GB, lifted.
    assert usage_topup_buy(service=s, packs=1, channel="staff", today=date(2026, 4, 12)).cap_lifted
    assert attrs("jane").get("Auth-Type") != "Reject"


def test_no_pack_no_top_up_and_nothing_written(home):
    _c, s, _cred = internet_customer("jane")
    with pytest.raises(TopUpError):
        usage_topup_buy(service=s, packs=1, channel="staff", today=date(2026, 4, 12))
    _c2, s2, _ = capped_50("joe")
    with pytest.raises(TopUpError):
        usage_topup_buy(service=s2, packs=0, channel="staff", today=date(2026, 4, 12))
    assert not OneTimeCharge.objects.exists() and not UsageTopUp.objects.exists()


# --- alerts -------------------------------------------------------------------------------


def test_alerts_at_40_and_50_gb_each_once(home, django_capture_on_commit_callbacks):
    c, s, _cred = capped_50()
    acct("A", octets_out=39 * GB, start=at(3), update=at(5, 12))
    with django_capture_on_commit_callbacks(execute=True):
        assert usage_collect(now=at(5, 13)).alerts == 0
    acct("A", octets_out=40 * GB, start=at(3), update=at(6, 12))
    with django_capture_on_commit_callbacks(execute=True):
        assert usage_collect(now=at(6, 13)).alerts == 1
    assert len(mail.outbox) == 1
    first = mail.outbox[0]
    assert first.to == [c.email]
    assert first.subject == f"You have used 80 % of your data volume ({s.description})"
    assert "40.00 GB of 50.00 GB" in first.body
    assert "your speed is reduced" in first.body
    # Collected again, nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        assert usage_collect(now=at(6, 14)).alerts == 0
    acct("A", octets_out=50 * GB, start=at(3), update=at(7, 12))
    with django_capture_on_commit_callbacks(execute=True):
        assert usage_collect(now=at(7, 13)).alerts == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert usage_collect(now=at(7, 14)).alerts == 0
    assert [m.subject[:27] for m in mail.outbox] == [
        "You have used 80 % of your ",
        "You have used 100 % of your",
    ]
    assert sorted(UsageAlert.objects.values_list("percent", flat=True)) == [80, 100]
    assert EmailDelivery.objects.filter(customer=c, kind="other", issuer=home).count() == 2
    # In the issuer's brand: its sender name in the From, as invoice e-mails.
    assert first.from_email.startswith(f'"{home.name}" <')
    # May: a new month, its thresholds anew.
    acct("A2", octets_out=41 * GB, start=at(2, month=5), update=at(3, month=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert usage_collect(now=at(3, 13, month=5)).alerts == 1


def test_crossing_two_thresholds_at_once_sends_one_email_in_german(
    home, django_capture_on_commit_callbacks
):
    c, _s, _cred = capped_50(usage_alerts="50,80, 100")
    c.language = "de"
    c.save()
    acct("J", octets_out=55 * GB, start=at(3), update=at(5, 12))
    with django_capture_on_commit_callbacks(execute=True):
        assert usage_collect(now=at(5, 13)).alerts == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.startswith("Sie haben 100 % Ihres Datenvolumens")
    assert sorted(UsageAlert.objects.values_list("percent", flat=True)) == [50, 80, 100]


def test_alerts_use_the_allowance_with_top_ups_and_none_without_thresholds(
    home, django_capture_on_commit_callbacks
):
    _c, s, _cred = capped_50()
    usage_topup_buy(service=s, packs=5, channel="staff", today=date(2026, 4, 2))
    # 100 GB allowance: 79 GB is under 80 %.
    acct("A", octets_out=79 * GB, start=at(3), update=at(5, 12))
    assert usage_collect(now=at(5, 13)).alerts == 0
    _c2, _s2, _ = capped_50("joe", usage_alerts="")
    acct("Q", username="joe", octets_out=99 * GB, start=at(3), update=at(5, 12))
    assert usage_collect(now=at(5, 14)).alerts == 0
    assert not UsageAlert.objects.exists()


# --- rollover -----------------------------------------------------------------------------


def test_rollover_rule():
    # 50 GB included, 30 used, nothing carried in: 20 carries.
    assert rollover_bytes(included=50 * GB, used=30 * GB, carried_in=0) == 20 * GB
    # 20 carried in is used first: 60 used = 20 carried + 40 of the 50: 10 carries.
    assert rollover_bytes(included=50 * GB, used=60 * GB, carried_in=20 * GB) == 10 * GB
    # Nothing used: at most the included volume (the carried-in 20 lapses).
    assert rollover_bytes(included=50 * GB, used=0, carried_in=20 * GB) == 50 * GB
    assert rollover_bytes(included=50 * GB, used=80 * GB, carried_in=0) == 0


def test_rollover_20_gb_unused_gives_70_gb_next_month(home):
    _c, s, cred = capped_50(rollover=True)
    acct("R", octets_out=30 * GB, start=at(10), stop=at(12))
    usage_collect(now=at(12, 13))
    assert usage_collect(now=at(1, 0, 30, month=5)).rollovers == 1
    assert usage_collect(now=at(1, 1, 30, month=5)).rollovers == 0  # once
    assert UsageRollover.objects.get(service=s).bytes == 20 * GB
    assert usage_month(s, today=date(2026, 5, 2))["allowance_bytes"] == 70 * GB
    # 65 GB in May: over the 50 included, under 70: not throttled; 70: throttled.
    acct("R2", octets_out=65 * GB, start=at(3, month=5), update=at(4, month=5))
    assert usage_collect(now=at(4, 13, month=5)).capped == 0
    acct("R2", octets_out=70 * GB, start=at(3, month=5), update=at(5, month=5))
    assert usage_collect(now=at(5, 13, month=5)).capped == 1
    # June: May used 70 = 20 carried + 50 of the included: nothing rolls over.
    usage_collect(now=at(1, 0, 30, month=6))
    assert UsageRollover.objects.get(service=s, month=date(2026, 6, 1)).bytes == 0
    cred.refresh_from_db()
    assert cred.capped == ""  # June lifted it


def test_no_rollover_without_the_tariff_setting(home):
    _c, s, _cred = capped_50()
    acct("N", octets_out=30 * GB, start=at(10), stop=at(12))
    usage_collect(now=at(12, 13))
    usage_collect(now=at(1, 0, 30, month=5))
    assert not UsageRollover.objects.exists()
    assert usage_month(s, today=date(2026, 5, 2))["allowance_bytes"] == 50 * GB


def test_rollover_is_counted_before_overage(home):
    _c, s, _cred = capped_50(rollover=True, cap_action="", overage_price_minor=200)
    acct("P", octets_out=30 * GB, start=at(10), stop=at(12))
    usage_collect(now=at(12, 13))
    usage_collect(now=at(1, 0, 30, month=5))
    # May: 71.5 GB of 50 + 20: 1.5 GB over → 2 started GB.
    acct("P2", octets_out=71_500_000_000, start=at(3, month=5), stop=at(5, month=5))
    usage_collect(now=at(5, 13, month=5))
    usage_collect(now=at(1, 0, 30, month=6))
    overage = OneTimeCharge.objects.get(description__startswith="Overage")
    assert overage.quantity == 2
    assert RadiusCredential.objects.get(service=s).capped == ""
