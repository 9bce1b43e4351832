"""The reseller settings form saves again (it answered 500), and a mode chosen in it goes
through the mode change flow."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.core.models import AuditEvent
from ispbill.partners.models import Partner, PartnerMode
from tests.factories import PartnerFactory
from tests.security.test_every_form import _Forms

pytestmark = pytest.mark.django_db


def _form_data(client: Client, url: str) -> dict[str, list[str]]:
    parser = _Forms(url)
    parser.feed(client.get(url).content.decode())
    (form,) = [f for f in parser.forms if f.action.endswith(url)]
    data: dict[str, list[str]] = {}
    for name, value in form.fields:
        data.setdefault(name, []).append(value)
    return data


def test_partner_settings_save_unchanged_and_changed(home):
    partner = PartnerFactory(name="CityNet", mode=PartnerMode.PERCENTAGE, commission_bp=1250)
    client = Client()
    client.force_login(User.objects.create(username="adm", role=Role.ADMIN))
    url = reverse("web:partner_edit", kwargs={"partner_id": partner.pk})

    data = _form_data(client, url)
    assert data["mode"] == ["percentage"] and data["commission_percent"] == ["12.50"]
    response = client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    assert Partner.objects.get(pk=partner.pk).commission_bp == 1250
    assert not AuditEvent.objects.filter(action="partner.mode_changed").exists()

    data.update(name=["CityNet Reseller"], mode=["own_invoicing"])
    response = client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    saved = Partner.objects.get(pk=partner.pk)
    assert (saved.name, saved.mode) == ("CityNet Reseller", PartnerMode.OWN_INVOICING)
    change = AuditEvent.objects.get(action="partner.mode_changed")
    assert change.changes == {"mode": {"before": "percentage", "after": "own_invoicing"}}


def test_a_refused_mode_change_saves_nothing(home):
    partner = PartnerFactory(name="WISP", mode=PartnerMode.PERCENTAGE)
    client = Client()
    client.force_login(User.objects.create(username="adm", role=Role.ADMIN))
    url = reverse("web:partner_edit", kwargs={"partner_id": partner.pk})
    data = _form_data(client, url)
    data.update(name=["Renamed"], mode=["direct"])
    response = client.post(url, data)
    assert response.status_code == 200
    assert "mode" in response.context["form"].errors
    assert Partner.objects.get(pk=partner.pk).name == "WISP"


def test_an_unusable_number_pattern_is_refused_where_it_is_typed(home):
    """Found by the every-form test: the settings form stored `9e99'"<script>` as a credit
    note pattern; the issuer's next credit note (and its settings page) would then fail."""
    client = Client()
    client.force_login(User.objects.create(username="adm", role=Role.ADMIN))
    url = reverse("web:settings")
    data = _form_data(client, url)
    for pattern in ("9e99'\"<script>", "CN{year}", ""):
        response = client.post(url, {**data, "credit_note_number_pattern": [pattern]})
        assert response.status_code == 200, pattern
        assert response.context["form"].errors, pattern
    assert (
        Partner.objects.get(pk=home.pk).credit_note_number_pattern
        == "CN{year}{partner_id|2}{next|6}"
    )


def test_each_issuer_switches_invoice_emails_on_issue_in_its_settings(home):
    """The operator for its own invoices and for a partner's, an own-invoicing partner's
    administrator for its own (docs/documents.md, "Invoices e-mailed on issue")."""
    own = PartnerFactory(name="OwnNet", mode=PartnerMode.OWN_INVOICING)
    assert own.email_invoices_on_issue  # on for a new issuer
    operator = Client()
    operator.force_login(User.objects.create(username="adm", role=Role.ADMIN))
    partner_admin = Client()
    partner_admin.force_login(
        User.objects.create(username="own", role=Role.PARTNER_ADMIN, partner=own)
    )
    settings_url = reverse("web:settings")
    partner_url = reverse("web:partner_edit", kwargs={"partner_id": own.pk})
    for client, url, issuer in (
        (operator, settings_url, home),
        (partner_admin, settings_url, own),
        (operator, partner_url, own),
    ):
        data = _form_data(client, url)
        assert data["email_invoices_on_issue"] == ["on"], url  # shown ticked
        del data["email_invoices_on_issue"]  # unticked
        response = client.post(url, data)
        assert response.status_code == 302, response.context["form"].errors
        assert not Partner.objects.get(pk=issuer.pk).email_invoices_on_issue
        data["email_invoices_on_issue"] = ["on"]
        assert client.post(url, data).status_code == 302
        assert Partner.objects.get(pk=issuer.pk).email_invoices_on_issue
    # A partner's administrator never reaches the operator's partner form.
    assert partner_admin.get(partner_url).status_code in (403, 404)


def test_partner_page_shows_whether_it_emails_invoices_when_issued(home, settings):
    """Where the partner's billing settings are (its terms): an issuer's "E-mail invoices
    when issued", on or off as saved; a partner whose invoices the operator issues has none."""
    own = PartnerFactory(name="Alpenfunk", mode=PartnerMode.OWN_INVOICING)
    resold = PartnerFactory(name="CityNet", mode=PartnerMode.PERCENTAGE)
    client = Client()
    client.force_login(User.objects.create(username="adm", role=Role.ADMIN))

    def terms(partner: Partner) -> str:
        html = client.get(reverse("web:partner", kwargs={"partner_id": partner.pk})).content
        return html.decode().split("<h2>Terms</h2>")[1].split("</section>")[0]

    settings.EMAIL_INVOICES_ON_ISSUE = True
    Partner.objects.filter(pk=own.pk).update(email_invoices_on_issue=True)
    assert "<dt>E-mail invoices when issued</dt><dd>Yes</dd>" in terms(own)
    Partner.objects.filter(pk=own.pk).update(email_invoices_on_issue=False)
    assert "<dt>E-mail invoices when issued</dt><dd>No <small" in terms(own)
    Partner.objects.filter(pk=home.pk).update(email_invoices_on_issue=True)
    settings.EMAIL_INVOICES_ON_ISSUE = False
    assert "switched off for the whole installation" in terms(home)
    assert "E-mail invoices" not in terms(resold)
