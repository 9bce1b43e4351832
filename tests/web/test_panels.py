"""Every screen per role on the demo data: it renders, shows the right data, and writes only
through its service with clear messages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ispbill.billing.models import BillingRun
from ispbill.customers.models import Customer, CustomerStatus
from ispbill.invoicing.models import CreditNote, Invoice
from ispbill.partners.models import CommissionStatement, Partner
from ispbill.payments.models import Payment

from .conftest import signed_in

pytestmark = pytest.mark.django_db


def test_operator_screens_render(demo):
    client = signed_in("admin")
    invoice = Invoice.objects.order_by("id").first()
    customer = Customer.objects.order_by("id")[3]
    partner = Partner.objects.get(name="CityNet Resellers")
    statement = CommissionStatement.objects.first()
    payment = Payment.objects.first()
    urls = [
        reverse("web:home"),
        reverse("web:partners"),
        reverse("web:partner_new"),
        reverse("web:partner", kwargs={"partner_id": partner.pk}),
        reverse("web:partner_edit", kwargs={"partner_id": partner.pk}),
        reverse("web:customers") + "?q=a&status=active&sort=-name",
        reverse("web:customer_new"),
        reverse("web:customer", kwargs={"customer_id": customer.pk}),
        reverse("web:customer_edit", kwargs={"customer_id": customer.pk}),
        reverse("web:service_new", kwargs={"customer_id": customer.pk}),
        reverse("web:one_time_charge_new", kwargs={"customer_id": customer.pk}),
        reverse("web:customer_statement", kwargs={"customer_id": customer.pk}),
        reverse("web:tariffs"),
        reverse("web:tariff_new"),
        reverse("web:billing"),
        reverse("web:invoices") + "?status=overdue&sort=total",
        reverse("web:aggregated"),
        reverse("web:invoice", kwargs={"invoice_id": invoice.pk}),
        reverse("web:credit_note_new", kwargs={"invoice_id": invoice.pk}),
        reverse("web:payments"),
        reverse("web:payment_new"),
        reverse("web:payment_refund", kwargs={"payment_id": payment.pk}),
        reverse("web:dunning"),
        reverse("web:dunning") + "?tab=blocked",
        reverse("web:commissions"),
        reverse("web:commission", kwargs={"statement_id": statement.pk}),
        reverse("web:commission_csv", kwargs={"statement_id": statement.pk}),
        reverse("web:settings"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
    html = client.get(reverse("web:home")).content.decode()
    assert "Revenue per partner per month" in html and "chart-data" in html
    assert "CityNet Resellers" in html


def test_customer_search_filters_and_htmx_rows(demo):
    client = signed_in("admin")
    target, other = Customer.objects.order_by("id")[5], Customer.objects.order_by("id")[6]
    html = client.get(reverse("web:customers"), {"q": target.reference}).content.decode()
    # The demo's references are the partner's id and a number ("0100004"): on PostgreSQL,
    # where ids go on from earlier tests, another partner's ("10100004") may contain it.
    matching = Customer.objects.filter(reference__icontains=target.reference).count()
    assert target.name in html and other.name not in html
    assert f"{matching} customer{'s' if matching > 1 else ''}<" in html
    partial = client.get(reverse("web:customers"), {"q": target.reference}, HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode() and target.name in partial.content.decode()


def test_operator_creates_partner_customer_service_and_charge(demo):
    client = signed_in("admin")
    bad = client.post(reverse("web:partner_new"), {"name": "", "mode": "percentage"})
    assert bad.status_code == 200 and "This field is required" in bad.content.decode()
    response = client.post(
        reverse("web:partner_new"),
        {
            "name": "Funkwelle",
            "mode": "percentage",
            "commission_percent": "12.50",
            "commission_base": "paid",
            "commission_statement_day": 1,
            "discount_percent": "0",
            "aggregation_day": 1,
            "aggregation_cycle": 1,
            "aggregation_anchor_month": 1,
            "country": "DE",
            "currency": "EUR",
            "billing_day": 1,
            "payment_due_days": 14,
            "payment_period": "prepaid",
            "first_period_billing": "next_invoice",
            "reminder_days": "3,5,7",
            "invoice_number_pattern": "{year}{partner_id|2}{next|6}",
            "credit_note_number_pattern": "CN{year}{next|6}",
            "receipt_number_pattern": "R{year}{next|6}",
        },
    )
    partner = Partner.objects.get(name="Funkwelle")
    assert response.status_code == 302 and partner.commission_bp == 1250
    response = client.post(
        reverse("web:customer_new"),
        {
            "partner": partner.pk,
            "reference": "F-1",
            "name": "Erika Muster",
            "country": "DE",
            "language": "en",
        },
    )
    customer = Customer.objects.get(partner=partner, reference="F-1")
    assert response.status_code == 302
    duplicate = client.post(
        reverse("web:customer_new"),
        {
            "partner": partner.pk,
            "reference": "F-1",
            "name": "Again",
            "country": "DE",
            "language": "en",
        },
    )
    assert duplicate.status_code == 200
    assert "customer number is already used" in duplicate.content.decode()
    assert "Partner and Reference" not in duplicate.content.decode()
    # Block, then unblock by hand.
    client.post(
        reverse("web:customer_status", kwargs={"customer_id": customer.pk}), {"status": "blocked"}
    )
    customer.refresh_from_db()
    assert customer.status == CustomerStatus.BLOCKED
    # Disable the partner.
    client.post(reverse("web:partner_toggle", kwargs={"partner_id": partner.pk}))
    partner.refresh_from_db()
    assert not partner.is_active


def test_billing_preview_writes_nothing_then_run_issues(demo):
    client = signed_in("admin")
    before = Invoice.objects.count()
    response = client.post(reverse("web:billing_preview"), {"run_date": "2026-05-05"})
    html = response.content.decode()
    assert response.status_code == 200 and "Per issuer and recipient" in html
    assert Invoice.objects.count() == before
    assert 'name="caught_up" value="0"' in html  # one billing date per customer
    response = client.post(
        reverse("web:billing_start"), {"run_date": "2026-05-05", "caught_up": "0"}
    )
    assert response.status_code == 302
    run = BillingRun.objects.filter(dry_run=False).order_by("-id").first()
    assert response["Location"] == reverse("web:billing_run", kwargs={"run_id": run.pk})
    assert Invoice.objects.count() > before
    page = client.get(response["Location"]).content.decode()
    assert "Per issuer and recipient" in page
    progress = client.get(reverse("web:billing_run_progress", kwargs={"run_id": run.pk}))
    assert progress.status_code == 200


def test_payment_and_credit_note_with_field_errors(demo):
    client = signed_in("accountant")
    invoice = Invoice.objects.filter(status="unpaid").order_by("id").first()
    bad = client.post(
        reverse("web:payment_new"),
        {
            "customer": invoice.customer_id,
            "amount": "-3",
            "date": "2026-04-10",
            "method": "bank_transfer",
        },
    )
    assert "cannot be negative" in bad.content.decode()
    ok = client.post(
        reverse("web:payment_new"),
        {
            "customer": invoice.customer_id,
            "amount": "10.00",
            "date": "2026-04-10",
            "method": "bank_transfer",
            "reference": "T-1",
        },
    )
    assert ok.status_code == 302
    assert Payment.objects.filter(reference="T-1", amount_minor=1000).exists()
    again = client.post(
        reverse("web:payment_new"),
        {
            "customer": invoice.customer_id,
            "amount": "10.00",
            "date": "2026-04-10",
            "method": "bank_transfer",
            "reference": "T-1",
        },
    )
    assert again.status_code == 200 and "already recorded" in again.content.decode()
    url = reverse("web:credit_note_new", kwargs={"invoice_id": invoice.pk})
    assert (
        "required"
        in client.post(url, {"reason": "", "date": "2026-04-10", "full": "on"}).content.decode()
    )
    preview = client.post(url, {"reason": "Outage", "date": "2026-04-10", "full": "on"})
    assert preview.status_code == 200 and "Total credited (gross)" in preview.content.decode()
    assert not CreditNote.objects.filter(invoice=invoice).exists()
    response = client.post(
        url, {"reason": "Outage", "date": "2026-04-10", "full": "True", "confirm": "1"}
    )
    assert response.status_code == 302
    assert CreditNote.objects.filter(invoice=invoice, reason="Outage").exists()


def test_invoice_pdf_downloads(demo):
    client = signed_in("admin")
    invoice = Invoice.objects.order_by("id").first()
    response = client.get(reverse("web:invoice_pdf", kwargs={"invoice_id": invoice.pk}))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf" and response.content[:4] == b"%PDF"


def test_partner_panel_shows_only_its_data(demo):
    client = signed_in("citynet")
    html = client.get(reverse("web:home")).content.decode()
    assert "CityNet Resellers" in html and "Alpenfunk" not in html
    customers = client.get(reverse("web:customers")).content.decode()
    assert "Alpenfunk" not in customers and "WISP" not in customers
    assert client.get(reverse("web:partners")).status_code == 403
    assert client.get(reverse("web:billing")).status_code == 403  # percentage: no own runs
    assert client.get(reverse("web:commissions")).status_code == 200
    foreign = Customer.objects.exclude(partner__name="CityNet Resellers").first()
    assert (
        client.get(reverse("web:customer", kwargs={"customer_id": foreign.pk})).status_code == 404
    )


def test_own_invoicing_partner_runs_its_own_billing(demo):
    client = signed_in("alpenfunk")
    assert client.get(reverse("web:billing")).status_code == 200
    html = client.post(reverse("web:billing_preview"), {"run_date": "2026-05-05"}).content.decode()
    assert "CityNet" not in html
    assert client.get(reverse("web:settings")).status_code == 200


def test_customer_portal(demo):
    client = signed_in("customer")
    response = client.get(reverse("web:home"))
    assert response.status_code == 302 and response["Location"] == reverse("web:portal")
    for name in ("web:portal", "web:portal_invoices", "web:portal_statement", "web:portal_profile"):
        assert client.get(reverse(name)).status_code == 200, name
    assert client.get(reverse("web:customers")).status_code == 403
    from ispbill.accounts.models import User

    me = User.objects.get(username="customer").customer_id
    mine = Invoice.objects.filter(customer_id=me).first()
    other = Invoice.objects.exclude(customer_id=me).first()
    pdf = client.get(reverse("web:portal_invoice_pdf", kwargs={"invoice_id": mine.pk}))
    assert pdf.status_code == 200 and pdf.content[:4] == b"%PDF"
    assert (
        client.get(reverse("web:portal_invoice_pdf", kwargs={"invoice_id": other.pk})).status_code
        == 404
    )
    saved = client.post(reverse("web:portal_profile"), {"email": "not-an-email", "language": "en"})
    assert "valid email" in saved.content.decode()
