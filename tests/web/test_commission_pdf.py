import pytest
from django.urls import reverse

from ispbill.demo import DEMO_PASSWORD, demo_load
from ispbill.partners.models import CommissionStatement

pytestmark = pytest.mark.django_db


def test_commission_statement_pdf_for_operator_and_its_partner(client):
    demo_load()
    statement = CommissionStatement.objects.order_by("period_start").first()
    assert statement is not None
    url = reverse("web:commission_pdf", kwargs={"statement_id": statement.pk})
    client.login(username="admin", password=DEMO_PASSWORD)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    client.login(username="citynet", password=DEMO_PASSWORD)
    assert client.get(url).status_code == 200
    client.login(username="wispverbund", password=DEMO_PASSWORD)
    assert client.get(url).status_code in (403, 404)
