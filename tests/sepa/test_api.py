"""The direct debit API and pages: each issuer collects its own customers under its own
creditor identifier; partners and customers reach only what is theirs."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client

from ispbill.accounts.models import Role
from ispbill.billing.run import billing_run_start
from ispbill.core.invariants import invariants_check
from ispbill.invoicing.models import Invoice
from ispbill.sepa.models import Collection, Mandate
from ispbill.subscriptions.models import Service
from tests.api.conftest import BASE, Seed, assert_error, make_user
from tests.sepa.helpers import (
    CREDITOR_IBAN,
    DEBTOR_IBANS,
    camt054_return,
    pain002_reject,
    pain008_valid,
)

pytestmark = pytest.mark.django_db

OWN_CREDITOR_ID = "AT61ZZZ01234567890"  # check digits 61 over 01234567890 + AT00


def _settings(api, creditor_id: str, **kw):
    body = {"creditor_id": creditor_id, "iban": CREDITOR_IBAN, "bic": "COBADEFFXXX"} | kw
    return api.call("PUT", "/sepa/creditor", body)


def _bill(seed: Seed) -> None:
    for c, t in ((seed.alice, seed.fiber), (seed.bob, seed.fiber), (seed.olga, seed.own_tariff)):
        Service.objects.create(partner=c.partner, customer=c, tariff=t, start_date=date(2026, 3, 1))
    billing_run_start(run_date=date(2026, 3, 1))


def test_each_issuer_collects_its_own_customers_through_the_api(seed):
    bad = _settings(seed.admin, "DE97ZZZ09999999999")
    assert assert_error(bad, 422)["fields"] == {"creditor_id": bad.body["fields"]["creditor_id"]}
    assert _settings(seed.admin, "de98zzz09999999999").body["creditor_id"] == "DE98ZZZ09999999999"
    own = _settings(seed.ownnet_admin, OWN_CREDITOR_ID)
    assert (own.status, own.body["partner_id"]) == (200, seed.ownnet.pk)
    # A partner cannot set another issuer's settings; a percentage partner has none to set.
    assert_error(
        seed.ownnet_admin.call(
            "PUT",
            "/sepa/creditor",
            {"partner_id": seed.home.pk, "creditor_id": OWN_CREDITOR_ID, "iban": CREDITOR_IBAN},
        ),
        422,
    )
    assert_error(_settings(seed.citynet_admin, OWN_CREDITOR_ID), 403)

    # Mandates: the percentage partner records its customer's (the home partner collects).
    bob = seed.citynet_admin.post(
        "/mandates",
        {"customer_id": seed.bob.pk, "iban": DEBTOR_IBANS[1], "signature_date": "2026-02-20"},
    )
    assert bob.status == 201, bob.body
    assert (bob.body["creditor_id"], bob.body["sequence"], bob.body["reference"]) == (
        seed.home.pk,
        "FRST",
        "B-1-1",
    )
    assert bob.body["iban"] == "DE02 **** **** **** **50 30"
    assert_error(
        seed.citynet_admin.post(
            "/mandates",
            {"customer_id": seed.alice.pk, "iban": DEBTOR_IBANS[0], "signature_date": "2026-02-20"},
        ),
        422,  # another partner's customer in a body: "no such customer", as everywhere
    )
    alice = seed.admin.post(
        "/mandates",
        {
            "customer_id": seed.alice.pk,
            "iban": DEBTOR_IBANS[0],
            "signature_date": "2026-02-20",
            "reference": "MANDATE-ALICE",
        },
    )
    assert alice.status == 201
    olga = seed.ownnet_admin.post(
        "/mandates",
        {"customer_id": seed.olga.pk, "iban": DEBTOR_IBANS[2], "signature_date": "2026-02-20"},
    )
    assert olga.body["creditor_id"] == seed.ownnet.pk
    duplicate = seed.admin.post(
        "/mandates",
        {"customer_id": seed.alice.pk, "iban": DEBTOR_IBANS[0], "signature_date": "2026-02-20"},
    )
    assert_error(duplicate, 409)
    assert_error(seed.citynet_admin.get(f"/mandates/{olga.body['id']}"), 404)

    _bill(seed)
    # Home: Alice and Bob, 35.70 each (30.00 + 19 %) = 71.40 on Monday 16 March.
    preview = seed.admin.post("/collections/preview", {"date": "2026-03-12"})
    [plan] = preview.body["batches"]
    assert (plan["collection_date"], plan["count"], plan["total"]["amount"]) == (
        "2026-03-16",
        2,
        "71.40",
    )
    assert_error(seed.citynet_admin.post("/collections", {"date": "2026-03-12"}), 403)
    created = seed.admin.post("/collections", {"date": "2026-03-12"}, key="run-1")
    assert created.status == 201
    [batch] = created.body
    assert (batch["creditor_id"], batch["status"]) == ("DE98ZZZ09999999999", "draft")
    assert {d["customer_id"] for d in batch["debits"]} == {seed.alice.pk, seed.bob.pk}
    assert seed.admin.post("/collections", {"date": "2026-03-12"}, key="run-2").body == []
    # OwnNet: Olga's 23.80 (20.00 + 19 %) into its own account under its own identifier.
    [own_batch] = seed.ownnet_admin.post("/collections", {"date": "2026-03-12"}).body
    assert (own_batch["creditor_id"], own_batch["total"]["amount"]) == (OWN_CREDITOR_ID, "23.80")
    assert_error(seed.ownnet_admin.get(f"/collections/{batch['id']}"), 404)
    assert_error(seed.ownnet_admin.get(f"/collections/{batch['id']}/file"), 404)
    assert [c["id"] for c in seed.ownnet_admin.get("/collections").body["items"]] == [
        own_batch["id"]
    ]

    xml = seed.admin.get(f"/collections/{batch['id']}/file")
    assert xml.status == 200 and xml.headers["Content-Type"] == "application/xml"
    doc = pain008_valid(xml.raw)
    assert b"MANDATE-ALICE" in xml.raw and b"B-1-1" in xml.raw
    assert doc is not None
    assert_error(seed.admin.post(f"/collections/{batch['id']}/collect"), 409)
    assert seed.admin.post(f"/collections/{batch['id']}/submit").body["status"] == "submitted"
    assert_error(seed.admin.delete(f"/collections/{batch['id']}"), 409)
    collected = seed.admin.post(f"/collections/{batch['id']}/collect").body
    assert {d["status"] for d in collected["debits"]} == {"collected"}
    assert invariants_check()[1] == []

    # Bob's bank returns the debit for lack of funds (AM04): the mandate stays, and as its
    # first collection came back, its next one is a first one again.
    bob_debit = next(d for d in collected["debits"] if d["customer_id"] == seed.bob.pk)
    upload = seed.admin.client.post(
        f"{BASE}/sepa/returns",
        {
            "file": _file(
                camt054_return(
                    end_to_end_id=bob_debit["end_to_end_id"],
                    amount="35.70",
                    reason="AM04",
                    booked=date(2026, 3, 18),
                    version="02",
                )
            )
        },
    )
    assert upload.status_code == 201, upload.content
    assert [r["reason_code"] for r in upload.json()["booked"]] == ["AM04"]
    mandate = Mandate.objects.get(pk=bob.body["id"])
    assert (mandate.status, mandate.sequence) == ("active", "FRST")
    assert Invoice.objects.get(customer=seed.bob).status == "unpaid"
    assert invariants_check()[1] == []
    # Another partner's returns file names a debit it cannot see: unknown, nothing booked.
    other = seed.ownnet_admin.client.post(
        f"{BASE}/sepa/returns",
        {
            "file": _file(
                camt054_return(
                    end_to_end_id=next(
                        d["end_to_end_id"]
                        for d in collected["debits"]
                        if d["customer_id"] == seed.alice.pk
                    ),
                    amount="35.70",
                    reason="AC04",
                    booked=date(2026, 3, 18),
                    reference="X-2",
                )
            )
        },
    )
    assert other.status_code == 201 and other.json()["booked"] == []
    assert Mandate.objects.get(reference="MANDATE-ALICE").status == "active"


def test_a_pain002_reject_before_booking_leaves_the_debit_unbooked(seed):
    _settings(seed.admin, "DE98ZZZ09999999999")
    seed.admin.post(
        "/mandates",
        {"customer_id": seed.alice.pk, "iban": DEBTOR_IBANS[0], "signature_date": "2026-02-20"},
    )
    _bill(seed)
    [batch] = seed.admin.post("/collections", {"date": "2026-03-12"}).body
    seed.admin.post(f"/collections/{batch['id']}/submit")
    e2e = batch["debits"][0]["end_to_end_id"]
    answer = seed.admin.client.post(
        f"{BASE}/sepa/returns",
        {
            "file": _file(
                pain002_reject(end_to_end_id=e2e, reason="AC01", created=date(2026, 3, 13))
            )
        },
    )
    assert answer.status_code == 201
    collected = seed.admin.post(f"/collections/{batch['id']}/collect").body
    assert collected["debits"][0]["status"] == "rejected"
    assert collected["debits"][0]["payment_id"] is None
    assert Mandate.objects.get(customer=seed.alice).status == "revoked"  # AC01: wrong account
    assert invariants_check()[1] == []


def test_the_pages_run_a_collection(seed):
    _settings(seed.admin, "DE98ZZZ09999999999")
    seed.admin.post(
        "/mandates",
        {"customer_id": seed.alice.pk, "iban": DEBTOR_IBANS[0], "signature_date": "2026-02-20"},
    )
    _bill(seed)
    web = Client()
    web.force_login(make_user("ops", Role.ADMIN))
    page = web.get("/collections/", {"on": "2026-03-12", "until": "2026-03-17"})
    assert page.status_code == 200 and b"71.40" not in page.content and b"35.70" in page.content
    answer = web.post("/collections/run/", {"on": "2026-03-12", "until": "2026-03-17"})
    batch = Collection.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/collections/{batch.pk}/"
    assert b"A-1" in web.get(f"/collections/{batch.pk}/").content
    pain008_valid(web.get(f"/collections/{batch.pk}/pain008.xml").content)
    web.post(f"/collections/{batch.pk}/submit/")
    web.post(f"/collections/{batch.pk}/collect/")
    assert Collection.objects.get().status == "collected"
    customer_page = web.get(f"/customers/{seed.alice.pk}/")
    assert (
        b"A-1-1" in customer_page.content
        and b"DE02 **** **** **** **20 51" in customer_page.content
    )


def test_the_customer_signs_a_mandate_in_the_portal(seed):
    _settings(seed.admin, "DE98ZZZ09999999999", creditor_name="Nordnetz Breitband GmbH")
    portal = Client()
    portal.force_login(
        make_user("bob-portal", Role.CUSTOMER, partner=seed.citynet, customer=seed.bob)
    )
    page = portal.get("/portal/direct-debit/")
    assert b"DE98ZZZ09999999999" in page.content and b"Nordnetz Breitband GmbH" in page.content
    refused = portal.post("/portal/direct-debit/", {"iban": DEBTOR_IBANS[1], "debtor_name": "Bob"})
    assert refused.status_code == 200 and not Mandate.objects.exists()  # not confirmed
    signed = portal.post(
        "/portal/direct-debit/", {"iban": DEBTOR_IBANS[1], "debtor_name": "Bob", "confirm": "on"}
    )
    assert signed.status_code == 302
    mandate = Mandate.objects.get()
    assert (mandate.customer_id, mandate.source, mandate.creditor_id) == (
        seed.bob.pk,
        "portal",
        seed.home.pk,
    )
    assert "DE98ZZZ09999999999" in mandate.signed_text
    portal.post(f"/portal/direct-debit/{mandate.pk}/revoke/")
    assert Mandate.objects.get().status == "revoked"


def _file(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("returns.xml", data, content_type="application/xml")
