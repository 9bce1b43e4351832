"""The brand service: colours normalised or refused, every change audited, none for
partners whose customers the operator invoices."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from ispbill.core.models import AuditEvent
from ispbill.core.validators import FieldValueError, hex_color_clean
from ispbill.partners.brand import partner_brand_update
from ispbill.partners.models import Partner, PartnerMode
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("#1F4E79", "#1f4e79"), ("1f4e79", "#1f4e79"), ("#14e", "#1144ee"), ("  ", "")],
)
def test_colours_are_stored_as_hash_and_six_digits(typed, stored):
    assert hex_color_clean(typed) == stored


@pytest.mark.parametrize("typed", ["green", "#12345", "#1234567", "rgb(1,2,3)", "#ggg"])
def test_other_colours_are_refused(typed):
    with pytest.raises(FieldValueError, match="is not a colour"):
        hex_color_clean(typed)


def test_a_change_is_audited_once(home):
    own = PartnerFactory(mode=PartnerMode.OWN_INVOICING)
    partner_brand_update(partner=own, brand_color="#ABC", actor="tester")
    assert Partner.objects.get(pk=own.pk).brand_color == "#aabbcc"
    partner_brand_update(partner=own, brand_color="#aabbcc", actor="tester")
    (event,) = AuditEvent.objects.filter(action="partner.brand_updated")
    assert event.changes == {"brand_color": {"before": "", "after": "#aabbcc"}}


def test_refused_for_partners_without_documents_of_their_own(home):
    for mode in (PartnerMode.PERCENTAGE, PartnerMode.AGGREGATED):
        partner = PartnerFactory(mode=mode)
        with pytest.raises(ValidationError, match="see the operator's brand"):
            partner_brand_update(partner=partner, brand_name="Mine")
    partner_brand_update(partner=home, brand_name="Nordnetz")
    assert Partner.objects.get(pk=home.pk).brand_name == "Nordnetz"
