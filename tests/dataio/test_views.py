"""The data pages: imports, unmatched lines, exports and reports, per role and scope."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from ispbill.accounts.models import Role, User
from ispbill.billing.run import billing_run_start
from ispbill.customers.models import Customer
from ispbill.dataio.models import UnmatchedBankLine
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import PartnerMode
from ispbill.payments.models import Payment
from tests.billing.builders import customer, service, tariff
from tests.dataio.camt import Entry, Tx, camt053
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def _client(role: str, partner=None) -> Client:
    user = User.objects.create(
        username=f"u_{role}_{partner.pk if partner else 0}", role=role, partner=partner
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def billed(home):
    own = PartnerFactory(name="OwnNet", mode=PartnerMode.OWN_INVOICING)
    c_home, c_own = customer(), customer(own)
    service(c_home, tariff(price=3000), date(2026, 4, 1))
    service(c_own, tariff(own, price=2000), date(2026, 4, 1))
    billing_run_start(run_date=date(2026, 4, 1))
    return own, c_home, c_own


def test_operator_pages_render(billed):
    client = _client(Role.ADMIN)
    for name in ("reports", "exports", "bank_lines", "customers_import", "payments_import"):
        response = client.get(reverse(f"web:{name}"))
        assert response.status_code == 200, name
    page = client.get(reverse("web:reports"), {"start": "2026-04-01", "end": "2026-04-30"})
    assert b"report-charts" in page.content and b"chart.umd.min.js" in page.content
    response = client.get(
        reverse("web:reports"), {"start": "2026-04-01", "end": "2026-04-30", "csv": "revenue"}
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["month", "partner", "currency", "net_revenue"]
    assert sorted(r[3] for r in rows[1:]) == ["20.00", "30.00"]


def test_partner_export_download_is_scoped(billed):
    own, _c_home, c_own = billed
    client = _client(Role.PARTNER_ADMIN, own)
    response = client.get(
        reverse("web:exports"),
        {"start": "2026-04-01", "end": "2026-04-30", "kind": "invoices", "format": "csv"},
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["customer_reference"] for r in rows] == [c_own.reference]
    xlsx = client.get(
        reverse("web:exports"),
        {"start": "2026-04-01", "end": "2026-04-30", "kind": "journal", "format": "xlsx"},
    )
    assert xlsx.content[:2] == b"PK"


def test_customer_import_dry_run_then_import(billed):
    own, _, _ = billed
    client = _client(Role.PARTNER_ADMIN, own)
    text = "reference,name,email\nN1,New One,n1@example.net\nN2,New Two,bad\n"
    upload = SimpleUploadedFile("c.csv", text.encode(), content_type="text/csv")
    response = client.post(reverse("web:customers_import"), {"file": upload, "dry_run": "on"})
    assert response.status_code == 200
    assert b"1 error" in response.content and b"email" in response.content
    text = text.replace("bad", "n2@example.net")
    upload = SimpleUploadedFile("c.csv", text.encode(), content_type="text/csv")
    response = client.post(reverse("web:customers_import"), {"file": upload})
    assert response.status_code == 302
    assert set(
        Customer.objects.filter(reference__in=["N1", "N2"]).values_list("partner_id", flat=True)
    ) == {own.pk}
    template = client.get(reverse("web:customers_template"))
    assert template.content.decode().startswith("reference,name,partner")


def test_bank_statement_upload_and_assignment(billed):
    own, c_home, c_own = billed
    invoice = Invoice.objects.get(customer=c_own)
    data = camt053(
        [
            Entry("23.80", reference="OWN-1", txs=[Tx("23.80", f"Rechnung {invoice.number}")]),
            Entry("5.00", reference="OWN-2", txs=[Tx("5.00", "unknown")]),
        ]
    )
    client = _client(Role.PARTNER_ADMIN, own)
    upload = SimpleUploadedFile("s.xml", data, content_type="application/xml")
    response = client.post(
        reverse("web:payments_import"), {"file": upload, "date_format": "%Y-%m-%d"}
    )
    assert response.status_code == 200
    assert b"1 booked, 1 queued" in response.content
    assert Payment.objects.get(reference="OWN-1").customer == c_own
    line = UnmatchedBankLine.objects.get(reference="OWN-2")
    assert line.partner == own
    listing = client.get(reverse("web:bank_lines"))
    assert b"OWN-2" in listing.content
    # A customer of another bank account cannot be named.
    url = reverse("web:bank_line_assign", kwargs={"line_id": line.pk})
    client.post(url, {"customer": c_home.reference})
    line.refresh_from_db()
    assert line.status == "open"
    client.post(url, {"customer": c_own.reference})
    line.refresh_from_db()
    assert line.status == "assigned" and line.payment.customer == c_own


def test_support_may_not_import_payments_nor_a_percentage_partner(billed):
    assert _client(Role.SUPPORT).get(reverse("web:payments_import")).status_code == 403
    city = PartnerFactory(mode=PartnerMode.PERCENTAGE)
    client = _client(Role.PARTNER_ADMIN, city)
    assert client.get(reverse("web:payments_import")).status_code == 403
    assert client.get(reverse("web:reports")).status_code == 200
