"""Commission statements in the web and the API: build every closed month, the
self-billing credit note's number, VAT and lines with customer and invoice, its PDF and XML;
a partner sees its own statements only."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ispbill.accounts.models import Role, User
from ispbill.commission.statements import commission_statement_approve, statement_line_rows
from ispbill.partners.models import CommissionAccrual, CommissionStatement, Partner, StatementStatus

from .conftest import signed_in

pytestmark = pytest.mark.django_db


def _first_month(partner_name: str = "CityNet Resellers") -> CommissionStatement:
    return (
        CommissionStatement.objects.filter(partner__name=partner_name)
        .order_by("period_start")
        .first()
    )  # type: ignore[return-value]


def test_the_demo_has_every_closed_month_built(demo):
    citynet = Partner.objects.get(name="CityNet Resellers")
    months = list(
        CommissionStatement.objects.filter(partner=citynet)
        .order_by("period_start")
        .values_list("period_start", flat=True)
    )
    today = timezone.localdate()
    last = date(today.year, today.month, 1)
    # Consecutive months from January 2026 to the month before this one.
    assert months[0] == date(2026, 1, 1) and months[-1] < last
    assert len(months) == (last.year - 2026) * 12 + last.month - 1
    approved = CommissionStatement.objects.filter(partner=citynet).exclude(
        status=StatementStatus.DRAFT
    )
    assert sorted(st.number for st in approved) == ["GS202600001", "GS202600002"]


def test_build_every_closed_month_button(demo):
    client = signed_in("admin")
    page = client.get(reverse("web:commissions")).content.decode()
    assert "Build every closed month now" in page and "data-confirm" in page
    # As before automatic building: only the months the demo built by hand.
    CommissionAccrual.objects.filter(statement__status=StatementStatus.DRAFT).update(statement=None)
    CommissionStatement.objects.filter(status=StatementStatus.DRAFT).delete()
    before = CommissionStatement.objects.count()
    response = client.post(reverse("web:commissions_build_closed"), follow=True)
    built = CommissionStatement.objects.count() - before
    assert built > 0
    assert f"{built} statement(s) built" in response.content.decode()
    response = client.post(reverse("web:commissions_build_closed"), follow=True)
    assert "nothing new" in response.content.decode()
    assert CommissionStatement.objects.count() == before + built


@pytest.mark.parametrize("username", ["citynet", "wispverbund"])
def test_partners_cannot_build(demo, username):
    client = signed_in(username)
    before = CommissionStatement.objects.count()
    response = client.post(reverse("web:commissions_build_closed"))
    assert response.status_code in (403, 404)
    assert CommissionStatement.objects.count() == before


def test_accountant_builds_too(demo):
    accountant = User.objects.create(username="acc", role=Role.ACCOUNTANT)
    client = Client()
    client.force_login(accountant)
    response = client.post(reverse("web:commissions_build_closed"), follow=True)
    assert response.status_code == 200 and "nothing new" in response.content.decode()


def test_detail_shows_number_vat_and_customer_on_each_line(demo):
    st = _first_month()
    client = signed_in("admin")
    html = client.get(reverse("web:commission", kwargs={"statement_id": st.pk})).content.decode()
    assert st.number in html and "Self-billing credit note" in html
    rows = statement_line_rows(st)
    assert rows and all(row["customer"] and row["invoice_number"] for row in rows)
    assert rows[0]["customer"] in html and rows[0]["invoice_number"] in html
    assert "VAT" in html and "XML (Factur-X)" in html
    listing = client.get(reverse("web:commissions")).content.decode()
    assert st.number in listing


def test_pdf_and_xml_downloads_for_operator_and_own_partner_only(demo, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    st = _first_month()
    xml_url = reverse("web:commission_xml", kwargs={"statement_id": st.pk})
    pdf_url = reverse("web:commission_pdf", kwargs={"statement_id": st.pk})
    for username in ("admin", "citynet"):
        client = signed_in(username)
        xml = client.get(xml_url)
        assert xml.status_code == 200 and xml["Content-Type"] == "application/xml"
        assert b"<ram:TypeCode>389</ram:TypeCode>" in xml.content
        pdf = client.get(pdf_url)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    other = signed_in("wispverbund")
    assert other.get(xml_url).status_code in (403, 404)
    assert other.get(pdf_url).status_code in (403, 404)
    # A draft has no XML yet: the page says why.
    draft = CommissionStatement.objects.filter(status=StatementStatus.DRAFT).first()
    assert draft is not None
    response = signed_in("admin").get(
        reverse("web:commission_xml", kwargs={"statement_id": draft.pk}), follow=True
    )
    assert "approve it" in response.content.decode()


def test_approving_in_the_web_numbers_the_next_in_series(demo):
    draft = (
        CommissionStatement.objects.filter(status=StatementStatus.DRAFT)
        .order_by("period_start")
        .first()
    )
    assert draft is not None
    client = signed_in("admin")
    client.post(reverse("web:commission_approve", kwargs={"statement_id": draft.pk}))
    draft.refresh_from_db()
    assert draft.status == StatementStatus.APPROVED and draft.number == "GS202600003"


def test_api_fields_build_and_downloads(demo, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    st = _first_month()
    client = signed_in("admin")
    body = client.get(f"/api/v1/commission-statements/{st.pk}").json()
    assert body["number"] == st.number and body["tax_category"] in ("S", "AE", "O")
    assert body["gross"]["amount"] and body["tax"]["amount"] is not None
    assert body["lines"] and all(line["customer"] for line in body["lines"])
    assert all(line["invoice_number"] for line in body["lines"])
    pdf = client.get(f"/api/v1/commission-statements/{st.pk}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    xml = client.get(f"/api/v1/commission-statements/{st.pk}/xml")
    assert xml.status_code == 200 and b"389" in xml.content
    draft = CommissionStatement.objects.filter(status=StatementStatus.DRAFT).first()
    assert draft is not None
    refused = client.get(f"/api/v1/commission-statements/{draft.pk}/xml")
    assert refused.status_code == 422
    built = client.post(
        "/api/v1/commission-statements/build-closed", content_type="application/json"
    )
    assert built.status_code == 200 and built.json()["built"] == []
    partner = signed_in("citynet")
    assert partner.post("/api/v1/commission-statements/build-closed").status_code == 403
    other = signed_in("wispverbund")
    assert other.get(f"/api/v1/commission-statements/{st.pk}/xml").status_code in (403, 404)


def test_approval_after_a_partner_registers_for_vat_charges_it(demo):
    citynet = Partner.objects.get(name="CityNet Resellers")
    home = Partner.objects.get(is_home=True)
    assert citynet.vat_id and citynet.country == home.country
    draft = (
        CommissionStatement.objects.filter(partner=citynet, status=StatementStatus.DRAFT)
        .exclude(total_minor=0)
        .first()
    )
    # The demo approves January and February and leaves March's commission a draft.
    assert draft is not None
    st = commission_statement_approve(statement=draft, on=timezone.localdate())
    assert st.tax_category == "S" and st.tax_rate_bp == 1900
    assert st.gross_minor == st.total_minor + st.tax_minor


def test_operator_sets_the_self_billing_pattern(demo):
    home = Partner.objects.get(is_home=True)
    client = signed_in("admin")
    page = client.get(reverse("web:settings")).content.decode()
    assert 'name="self_billing_number_pattern"' in page
    assert "Self-billing credit note (commission)" in page  # its series under numbering
    ok = client.patch(
        f"/api/v1/partners/{home.pk}",
        {"self_billing_number_pattern": "PROV-{year}-{next|4}"},
        content_type="application/json",
    )
    assert ok.status_code == 200 and ok.json()["self_billing_number_pattern"] == (
        "PROV-{year}-{next|4}"
    )
    bad = client.patch(
        f"/api/v1/partners/{home.pk}",
        {"self_billing_number_pattern": "GS{foo}"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    home.refresh_from_db()
    assert home.self_billing_number_pattern == "PROV-{year}-{next|4}"
    # An own-invoicing partner's settings have no such series.
    alpenfunk = signed_in("alpenfunk").get(reverse("web:settings")).content.decode()
    assert "self_billing_number_pattern" not in alpenfunk
