"""The web starts a billing run in the background and follows its progress; a double click
starts one run; catch-up is confirmed; dates after today are refused; an own-invoicing
partner previews and runs its own billing and dunning from its panel (issue 19).

Figures: one operator customer, 30.00 a month at 19 % = 35.70 per invoice, billed on the
1st; Alpenfunk's customer 20.00 at 19 % = 23.80."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ispbill.accounts.models import Role, User
from ispbill.billing import run as billing
from ispbill.billing.models import BillingRun
from ispbill.billing.run import billing_run_start
from ispbill.customers.models import Customer
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import Partner, PartnerMode
from tests.billing.builders import customer, service, tariff

APR1 = date(2026, 4, 1)


def _client(username: str, role: str, partner: Partner | None = None) -> Client:
    user = User.objects.create(
        username=username, role=role, partner=partner, password=make_password(None)
    )
    client = Client()
    client.force_login(user)
    return client


def _messages(response) -> str:
    return " ".join(str(m) for m in response.wsgi_request._messages)


@pytest.mark.django_db(transaction=True)
def test_the_run_goes_on_in_a_thread_and_a_double_click_starts_one_run(settings, monkeypatch):
    """As served without a broker: the request answers while the run is still going (its
    first chunk waits here on a gate), and a second click finds it running."""
    from ispbill.core.tenancy import system_scope

    settings.BILLING_RUN_IN_THREAD = True
    settings.BILLING_CHUNK_SIZE = 1
    with system_scope():
        ona, ben = customer(name="Ona"), customer(name="Ben")
        plan = tariff(price=3000)
        service(ona, plan, APR1)
        service(ben, plan, APR1)
    gate, waiting = threading.Event(), threading.Event()

    chunk_process = billing.billing_chunk_process

    def hold(**kwargs):
        done = chunk_process(**kwargs)
        waiting.set()
        assert gate.wait(30)
        return done

    monkeypatch.setattr(billing, "billing_chunk_process", hold)
    try:
        client = _client("op", Role.ADMIN)
        form = {"run_date": "2026-04-01", "caught_up": "0"}
        first = client.post(reverse("web:billing_start"), form)
        assert waiting.wait(30)  # the run is going, in its thread: the page answered
        with system_scope():
            run = BillingRun.objects.get()
            assert run.status == "running"
            assert first["Location"] == reverse("web:billing_run", kwargs={"run_id": run.pk})
            page = client.get(first["Location"]).content.decode()
            assert 'hx-get="' in page and 'id="run-background"' in page
            second = client.post(reverse("web:billing_start"), form)
            assert second["Location"] == first["Location"]
            assert f"Billing run {run.pk} for 2026-04-01 is running already" in _messages(second)
            assert BillingRun.objects.count() == 1
    finally:
        gate.set()
        for thread in billing.background_threads:
            thread.join(60)
        billing.background_threads.clear()
    with system_scope():
        run.refresh_from_db()
        assert (run.status, run.invoices_issued, run.chunks_done, run.chunks_total) == (
            "done",
            2,
            3,  # two chunks of one customer, and the aggregation phase
            3,
        )
        assert run.totals == {"EUR": 7140}
        progress = client.get(reverse("web:billing_run_progress", kwargs={"run_id": run.pk}))
        assert progress["HX-Refresh"] == "true"


@pytest.mark.django_db
def test_a_catch_up_is_confirmed_with_the_dates_in_view(home):
    """Ona's service started on 1 January, never billed: a run up to 1 April bills four
    billing dates, one invoice of 35.70 each."""
    ona = customer(name="Ona")
    service(ona, tariff(price=3000), date(2026, 1, 1))
    client = _client("op", Role.ADMIN)
    preview = client.post(reverse("web:billing_preview"), {"run_date": "2026-04-01"})
    html = preview.content.decode()
    assert 'id="preview-catch-up"' in html and 'id="preview-per-date"' in html
    for month in ("2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"):
        assert month in html
    assert 'name="caught_up" value="1"' in html and "confirm_catch_up" in html
    unconfirmed = client.post(
        reverse("web:billing_start"), {"run_date": "2026-04-01", "caught_up": "1"}
    )
    # The same preview again, not the billing page of today: its date, its figures, the
    # error beside the box to tick.
    assert unconfirmed.status_code == 200
    again = unconfirmed.content.decode()
    assert 'name="run_date" value="2026-04-01"' in again
    for month in ("2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"):
        assert month in again
    assert 'id="id_confirm_catch_up_error"' in again and "confirm the catch-up" in again
    assert 'name="caught_up" value="1"' in again
    assert not BillingRun.objects.exists()
    # Posted without the preview's figure: refused too.
    bare = client.post(reverse("web:billing_start"), {"run_date": "2026-04-01"})
    assert "Preview the run first" in _messages(bare) and not BillingRun.objects.exists()
    confirmed = client.post(
        reverse("web:billing_start"),
        {"run_date": "2026-04-01", "caught_up": "1", "confirm_catch_up": "on"},
    )
    run = BillingRun.objects.get()
    assert confirmed["Location"] == reverse("web:billing_run", kwargs={"run_id": run.pk})
    assert Invoice.objects.filter(customer=ona).count() == 4
    page = client.get(confirmed["Location"]).content.decode()
    assert 'id="run-dates"' in page and "142.80" in page


@pytest.mark.django_db
def test_a_date_after_today_is_refused(home):
    client = _client("op", Role.ADMIN)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    preview = client.post(reverse("web:billing_preview"), {"run_date": tomorrow})
    assert "cannot be dated in the future" in preview.content.decode()
    start = client.post(reverse("web:billing_start"), {"run_date": tomorrow, "caught_up": "0"})
    assert "cannot be dated in the future" in _messages(start)
    assert not BillingRun.objects.exists()


@pytest.fixture
def alpenfunk(home):
    alp = Partner.objects.create(name="Alpenfunk", mode=PartnerMode.OWN_INVOICING)
    alma = customer(alp, name="Alma")
    service(alma, tariff(alp, price=2000), APR1)
    ona = customer(name="Ona")
    service(ona, tariff(price=3000), APR1)
    operator_run = billing_run_start(run_date=APR1).run_id
    return alp, alma, ona, operator_run


@pytest.mark.django_db
def test_an_own_invoicing_partner_runs_its_own_billing_from_its_panel(alpenfunk):
    alp, alma, ona, operator_run = alpenfunk
    client = _client("alp", Role.PARTNER_ADMIN, alp)
    index = client.get(reverse("web:billing")).content.decode()
    assert "Bills Alpenfunk" in index and "No billing run yet" in index
    preview = client.post(reverse("web:billing_preview"), {"run_date": "2026-04-01"})
    html = preview.content.decode()
    assert "Alpenfunk" in html and "Own customers" in html and "23.80" in html
    assert "35.70" not in html  # nothing of the operator's
    start = client.post(reverse("web:billing_start"), {"run_date": "2026-04-01", "caught_up": "0"})
    run = BillingRun.objects.get(scope_partner=alp)
    assert start["Location"] == reverse("web:billing_run", kwargs={"run_id": run.pk})
    assert Invoice.objects.get(customer=alma).billing_run_id == run.pk
    index = client.get(reverse("web:billing")).content.decode()
    assert f"#{run.pk}" in index and f"#{operator_run}<" not in index
    # The operator's run is not the partner's to see: 404 like a missing one.
    other = client.get(reverse("web:billing_run", kwargs={"run_id": operator_run}))
    assert other.status_code == 404
    assert Customer.objects.get(pk=ona.pk).billed_through == APR1  # by the operator's run


@pytest.mark.django_db
def test_dunning_page_previews_and_runs_exactly_that(home):
    """Ona's invoice of 35.70 was due 14 days after 1 April; today is 15 June 2026 in this
    test (61 days late): the next run deactivates her."""
    ona = customer(name="Ona")
    service(ona, tariff(price=3000), APR1)
    billing_run_start(run_date=APR1)
    from ispbill.web import views_dunning

    client = _client("op", Role.ADMIN)
    original = views_dunning.today
    views_dunning.today = lambda: date(2026, 6, 15)  # type: ignore[assignment]
    try:
        page = client.get(reverse("web:dunning") + "?tab=next").content.decode()
        assert "Next run (1)" in page and 'id="dunning-deactivate"' in page and "Ona" in page
        assert "61 days overdue, past the deactivation period of 60 days" in page
        fingerprint = page.split('name="fingerprint" value="')[1].split('"')[0]
        stale = client.post(reverse("web:dunning_run"), {"fingerprint": "0" * 32})
        assert "nothing was done" in _messages(stale)
        assert Customer.objects.get(pk=ona.pk).status == "active"
        done = client.post(reverse("web:dunning_run"), {"fingerprint": fingerprint})
        assert done.status_code == 200 and "Deactivated" in done.content.decode()
        assert Customer.objects.get(pk=ona.pk).status == "inactive"
        again = client.get(reverse("web:dunning") + "?tab=next").content.decode()
        assert "Next run (0)" in again
    finally:
        views_dunning.today = original


@pytest.mark.django_db
def test_only_partners_that_dun_their_own_see_the_next_run(home):
    citynet = Partner.objects.create(name="CityNet", mode=PartnerMode.PERCENTAGE)
    client = _client("cn", Role.PARTNER_ADMIN, citynet)
    page = client.get(reverse("web:dunning")).content.decode()
    assert 'id="tab-next"' not in page and "operator's dunning run" in page
    assert client.post(reverse("web:dunning_run"), {"fingerprint": "0" * 32}).status_code == 403


@pytest.mark.django_db
def test_a_partners_unconfirmed_catch_up_shows_its_preview_again(alpenfunk):
    """Alma's service started on 1 April, never billed by Alpenfunk: a run up to 1 May bills
    two billing dates of 23.80; without the box ticked, the partner's preview comes back."""
    alp, alma, _ona, _operator_run = alpenfunk
    client = _client("alp", Role.PARTNER_ADMIN, alp)
    preview = client.post(reverse("web:billing_preview"), {"run_date": "2026-05-01"})
    assert 'name="caught_up" value="1"' in preview.content.decode()
    unconfirmed = client.post(
        reverse("web:billing_start"), {"run_date": "2026-05-01", "caught_up": "1"}
    )
    assert unconfirmed.status_code == 200
    html = unconfirmed.content.decode()
    assert 'name="run_date" value="2026-05-01"' in html and "47.60" in html
    assert "confirm the catch-up" in html and "35.70" not in html
    assert not BillingRun.objects.filter(scope_partner=alp).exists()
    confirmed = client.post(
        reverse("web:billing_start"),
        {"run_date": "2026-05-01", "caught_up": "1", "confirm_catch_up": "on"},
    )
    run = BillingRun.objects.get(scope_partner=alp)
    assert confirmed["Location"] == reverse("web:billing_run", kwargs={"run_id": run.pk})
    assert Invoice.objects.filter(customer=alma).count() == 2
