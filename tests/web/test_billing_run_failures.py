"""The billing run page lists the customers that failed and were skipped, and resumes a
run left "running" (issue 27)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ispbill.accounts.models import Role, User
from ispbill.billing.models import BillingRun
from ispbill.billing.run import billing_run_start
from tests.billing.builders import customer, service, tariff
from tests.billing.test_fault_isolation import APRIL, _hostile_setup

pytestmark = pytest.mark.django_db


def _operator() -> Client:
    user = User.objects.create(
        username="op", role=Role.ADMIN, is_staff=True, password=make_password(None)
    )
    client = Client()
    client.force_login(user)
    return client


def test_run_page_lists_the_failures(home):
    _mine, own, bad, _otc = _hostile_setup(home)
    run_id = billing_run_start(run_date=APRIL).run_id
    client = _operator()
    page = client.get(reverse("web:billing_run", kwargs={"run_id": run_id})).content.decode()
    assert "Finished with 1 failure" in page
    assert 'id="run-failures"' in page and bad.reference in page and own.name in page
    assert "OverflowError" in page or "out of range" in page
    index = client.get(reverse("web:billing")).content.decode()
    assert "Finished with 1 failure" in index


def test_a_stuck_run_is_resumed_from_its_page(home):
    service(customer(), tariff(price=3000), APRIL)
    stuck = BillingRun.objects.create(run_date=APRIL)
    BillingRun.objects.filter(pk=stuck.pk).update(started_at=timezone.now() - timedelta(hours=3))
    client = _operator()
    url = reverse("web:billing_run", kwargs={"run_id": stuck.pk})
    page = client.get(url).content.decode()
    assert 'id="run-resume"' in page and "most likely stopped" in page
    response = client.post(reverse("web:billing_run_resume", kwargs={"run_id": stuck.pk}))
    new = BillingRun.objects.exclude(pk=stuck.pk).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("web:billing_run", kwargs={"run_id": new.pk})
    assert BillingRun.objects.get(pk=stuck.pk).status == "failed"
    assert (new.status, new.invoices_issued) == ("done", 1)
    # Resuming it again: refused with the reason, nothing started.
    again = client.post(reverse("web:billing_run_resume", kwargs={"run_id": stuck.pk}))
    assert again.status_code == 302 and BillingRun.objects.count() == 2
