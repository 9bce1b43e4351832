"""``ids_draw`` (ispbill/core/bulk.py): ids from the table's own sequence, drawn before the
rows are written (PostgreSQL), never given to a row inserted the usual way."""

from __future__ import annotations

import pytest
from django.db import connection

from ispbill.core.bulk import ids_draw, ids_draw_supported
from ispbill.partners.models import Partner
from tests.factories import PartnerFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="ids are drawn on PostgreSQL"),
]


def test_drawn_ids_are_the_sequences_next_and_never_given_again():
    assert ids_draw_supported()
    before = PartnerFactory().pk
    first = ids_draw(Partner, 3)
    second = ids_draw(Partner, 2)  # the sequence's name is looked up once, then reused
    after = PartnerFactory().pk

    assert first == [before + 1, before + 2, before + 3]
    assert second == [before + 4, before + 5]
    assert after == before + 6
    assert ids_draw(Partner, 0) == []
