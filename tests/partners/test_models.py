from datetime import date

import pytest
from django.db import IntegrityError, transaction

from ispbill.catalog.models import Tariff, TaxRate
from ispbill.customers.models import Customer
from ispbill.partners.models import Partner, PartnerMode
from ispbill.subscriptions.models import Service

pytestmark = pytest.mark.django_db


def test_home_partner_exists_after_migrate(home):
    assert home.is_home and home.mode == PartnerMode.DIRECT
    assert Partner.objects.filter(is_home=True).count() == 1


def test_only_one_home_partner(home):
    with pytest.raises(IntegrityError), transaction.atomic():
        Partner.objects.create(name="Second", mode=PartnerMode.DIRECT, is_home=True)


def test_reseller_cannot_be_direct(home):
    with pytest.raises(IntegrityError), transaction.atomic():
        Partner.objects.create(name="R", mode=PartnerMode.DIRECT)


@pytest.mark.parametrize(
    ("field", "value"),
    [("commission_bp", 10001), ("billing_day", 29), ("billing_day", 0), ("aggregation_cycle", 2)],
)
def test_partner_constraints(home, field, value):
    with pytest.raises(IntegrityError), transaction.atomic():
        Partner.objects.create(name="R", mode=PartnerMode.PERCENTAGE, **{field: value})


def _tariff(home, **kw):
    vat = TaxRate.objects.create(partner=home, name=f"VAT {kw.get('name', '')}", rate_bp=1900)
    return Tariff.objects.create(
        partner=home, tax_rate=vat, **{"name": "T", "price_minor": 100, **kw}
    )


def test_negative_tariff_price_refused(home):
    with pytest.raises(IntegrityError), transaction.atomic():
        _tariff(home, price_minor=-1)


def test_tariff_period_must_be_1_3_6_12(home):
    with pytest.raises(IntegrityError), transaction.atomic():
        _tariff(home, period_months=2)


def test_customer_reference_unique_per_partner(home):
    Customer.objects.create(partner=home, reference="1", name="A")
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(partner=home, reference="1", name="B")
    other = Partner.objects.create(name="R", mode=PartnerMode.PERCENTAGE)
    Customer.objects.create(partner=other, reference="1", name="C")


def test_service_end_before_start_refused(home):
    c = Customer.objects.create(partner=home, reference="1", name="A")
    t = _tariff(home)
    with pytest.raises(IntegrityError), transaction.atomic():
        Service.objects.create(
            partner=home,
            customer=c,
            tariff=t,
            start_date=date(2026, 3, 1),
            end_date=date(2026, 2, 1),
        )


def test_money_columns_are_integers():
    from django.db import models

    from ispbill.catalog.models import PartnerPrice
    from ispbill.subscriptions.models import OneTimeCharge

    for model in (Tariff, PartnerPrice, Service, OneTimeCharge, Customer):
        for f in model._meta.get_fields():
            if f.name.endswith("_minor"):
                assert isinstance(f, models.BigIntegerField), f"{model.__name__}.{f.name}"
            assert not isinstance(f, models.FloatField)
