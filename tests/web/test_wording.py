"""Small things a new user noticed: counts in the singular, possessives of names ending in
s, a date without a double period, a settled balance, an amount to pay without a minus,
prices that say net or gross, a credited invoice not offered for sending, and a partner's
user list filtered by partner roles only."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from ispbill.accounts.models import User
from ispbill.customers.models import Customer
from ispbill.invoicing.models import Invoice, InvoiceStatus
from ispbill.payments.selectors import customer_balance_minor
from ispbill.web.templatetags.ispbill_web import counted, possessive

from .conftest import signed_in


def test_counted_and_possessive():
    assert (counted(1, "users"), counted(2, "users"), counted(0, "users")) == (
        "1 user",
        "2 users",
        "0 users",
    )
    assert (counted(1, "batches"), counted(1, "deliveries")) == ("1 batch", "1 delivery")
    assert possessive("CityNet Resellers") == "CityNet Resellers'"
    assert possessive("Alpenfunk") == "Alpenfunk's"


@pytest.mark.django_db
def test_small_wording_on_the_demo(demo):
    admin = signed_in("admin")
    # A settled account is "Settled", not "Credit on the account".
    ids = list(Customer.objects.values_list("pk", flat=True))
    balances = customer_balance_minor(ids)
    settled = next(pk for pk in ids if balances[pk] == 0)
    html = admin.get(reverse("web:customer", kwargs={"customer_id": settled})).content.decode()
    assert "Settled." in html and "Credit on the account" not in html

    # The creditor settings' date has one period after it, not "a.m..".
    html = admin.get(reverse("web:sepa_settings")).content.decode()
    assert "Last changed on" in html and ".." not in re.sub(r"<[^>]+>", "", html)

    # A fully credited invoice is not offered for sending; an open one is.
    credited = Invoice.objects.filter(status=InvoiceStatus.CREDITED).first()
    if credited is None:
        credited = Invoice.objects.filter(status=InvoiceStatus.UNPAID).order_by("id").first()
        url = reverse("web:credit_note_new", kwargs={"invoice_id": credited.pk})
        today = timezone.localdate().isoformat()
        data = {"reason": "Cancelled", "date": today, "full": "on", "confirm": "1"}
        assert admin.post(url, data).status_code == 302
    html = admin.get(reverse("web:invoice", kwargs={"invoice_id": credited.pk})).content.decode()
    assert "Send invoice by email" not in html
    unpaid = Invoice.objects.filter(status=InvoiceStatus.UNPAID).order_by("id").first()
    html = admin.get(reverse("web:invoice", kwargs={"invoice_id": unpaid.pk})).content.decode()
    assert "Send invoice by email" in html

    # A partner's user list filters by partner roles (and its portal users) only.
    html = signed_in("citynet").get(reverse("web:users")).content.decode()
    options = re.search(r'<select id="role".*?</select>', html, re.S).group(0)
    assert "Partner administrator" in options and "Operator" not in options
    assert "CityNet Resellers's" not in html

    # The portal: a debt is an amount to pay, without a minus; prices say net or gross.
    portal = signed_in("customer")
    me = Customer.objects.get(pk=User.objects.get(username="customer").customer_id)
    balance = customer_balance_minor([me.pk])[me.pk]
    html = portal.get(reverse("web:portal")).content.decode()
    shown = re.search(r'id="portal-balance">(.*?)</div>', html).group(1)
    assert "-" not in shown
    if balance < 0:
        assert f"{-balance / 100:,.2f}" in shown and "To pay" in html
    issuer_gross = me.partner.prices_include_tax
    assert ("incl. VAT" if issuer_gross else "net, plus VAT") in html
