"""Each resource through the API: create, read, update, list (filter, sort, page) and the
domain actions, with figures checked by hand."""

from __future__ import annotations

from typing import Any

import pytest

from ispbill.core.models import AuditEvent
from ispbill.customers.models import Customer
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import Partner
from tests.api.conftest import Billed, Seed, assert_error

pytestmark = pytest.mark.django_db


def test_me_answers_who_the_token_is(seed: Seed) -> None:
    answer = seed.citynet_admin.get("/me")
    assert answer.status == 200
    assert answer.body["role"] == "partner_admin"
    assert answer.body["partner_id"] == seed.citynet.pk


def test_partner_create_read_update_mode_disable(seed: Seed) -> None:
    api = seed.admin
    created = api.post(
        "/partners",
        {"name": "AggNet", "mode": "aggregated", "aggregation_day": 15, "discount_bp": 2000},
    )
    assert created.status == 201, created.body
    pid = created.body["id"]
    assert created.body["aggregation_day"] == 15
    assert created.body["discount_bp"] == 2000
    assert created.body["account_id"] is not None  # aggregated partners get their account
    assert api.get(f"/partners/{pid}").body["name"] == "AggNet"
    patched = api.patch(
        f"/partners/{pid}", {"payment_period": "postpaid", "legal_name": "AggNet GmbH"}
    )
    assert patched.status == 200, patched.body
    assert (patched.body["payment_period"], patched.body["legal_name"]) == (
        "postpaid",
        "AggNet GmbH",
    )
    # The billing day is the issuer's (the operator's for an aggregated partner): refused.
    refused = api.patch(f"/partners/{pid}", {"billing_day": 10})
    assert refused.status == 422 and "billing_day" in refused.body["fields"]
    moved = api.post(f"/partners/{pid}/mode", {"mode": "percentage"})
    assert moved.status == 200 and moved.body["mode"] == "percentage"
    disabled = api.post(f"/partners/{pid}/disable")
    assert disabled.status == 200 and disabled.body["is_active"] is False
    assert api.post(f"/partners/{pid}/enable").body["is_active"] is True
    assert (
        AuditEvent.objects.filter(object_type="partners.partner", object_id=str(pid)).count() >= 4
    )
    listed = api.get("/partners", mode="percentage", sort="-name")
    assert [p["name"] for p in listed.body["items"]] == ["CityNet", "AggNet"]


def test_partner_bad_input(seed: Seed) -> None:
    api = seed.admin
    body = assert_error(api.post("/partners", {"name": "X", "mode": "direct"}), 422)
    assert "mode" in body["fields"]
    body = assert_error(
        api.post("/partners", {"name": "X", "mode": "percentage", "billing_day": 29}), 422
    )
    assert "billing_day" in body["fields"]
    body = assert_error(api.post("/partners", {"name": "X" * 201, "mode": "percentage"}), 422)
    assert "name" in body["fields"]
    body = assert_error(api.post("/partners", {"mode": "percentage"}), 422, "validation_error")
    assert "name" in body["fields"]
    assert_error(
        api.post("/partners", {"name": "Y", "mode": "percentage", "commission_bp": -1}), 422
    )
    assert_error(api.patch(f"/partners/{seed.home.pk}", {"currency": "XYZ"}), 422)
    assert_error(api.post(f"/partners/{seed.home.pk}/disable"), 422)
    assert_error(api.get("/partners/987654"), 404, "not_found")
    assert_error(api.get("/partners/abc"), 404)


def test_customer_crud_status_and_partner_scoping(seed: Seed) -> None:
    created = seed.admin.post(
        "/customers",
        {
            "partner_id": seed.citynet.pk,
            "reference": "C-77",
            "name": "Carla",
            "billing_day": 28,
            "min_balance": "-20.00",
        },
    )
    assert created.status == 201, created.body
    cid = created.body["id"]
    assert created.body["min_balance"] == {"amount": "-20.00", "currency": "EUR"}
    # A partner's admin creates in its own partner without naming it.
    own = seed.citynet_admin.post("/customers", {"reference": "C-78", "name": "Dora"})
    assert own.status == 201 and own.body["partner_id"] == seed.citynet.pk
    # ... and cannot name another partner, nor see the operator's customers.
    assert_error(
        seed.citynet_admin.post(
            "/customers", {"partner_id": seed.home.pk, "reference": "C-79", "name": "E"}
        ),
        422,
    )
    assert_error(seed.citynet_admin.get(f"/customers/{seed.alice.pk}"), 404)
    names = [c["name"] for c in seed.citynet_admin.get("/customers", sort="name").body["items"]]
    assert names == ["Bob", "Carla", "Dora"]
    patched = seed.admin.patch(f"/customers/{cid}", {"billing_day": None, "city": "Berlin"})
    assert (patched.body["billing_day"], patched.body["city"]) == (None, "Berlin")
    blocked = seed.admin.post(f"/customers/{cid}/status", {"status": "blocked", "reason": "fraud"})
    assert blocked.body["status"] == "blocked"
    assert_error(seed.admin.patch(f"/customers/{cid}", {"billing_day": 29}), 422)
    assert_error(seed.admin.patch(f"/customers/{cid}", {"email": "not-an-email"}), 422)
    dup = seed.admin.post(
        "/customers", {"partner_id": seed.citynet.pk, "reference": "C-77", "name": "Twin"}
    )
    assert_error(dup, 422)
    page = seed.admin.get("/customers", limit=2, offset=1, sort="id")
    assert page.body["count"] == 5 and page.body["limit"] == 2
    assert [c["reference"] for c in page.body["items"]] == ["B-1", "O-1"]


def test_catalog_tax_rate_tariff_partner_price(seed: Seed) -> None:
    api = seed.admin
    rate = api.post("/tax-rates", {"name": "Reduced", "rate_bp": 700})
    assert rate.status == 201 and rate.body["rate"] == "7.00"
    assert api.patch(f"/tax-rates/{rate.body['id']}", {"rate_bp": 750}).body["rate"] == "7.50"
    tariff = api.post(
        "/tariffs",
        {
            "name": "TV",
            "kind": "recurring",
            "price": "9.99",
            "tax_rate_id": rate.body["id"],
            "period_months": 3,
            "available_to": [seed.citynet.pk],
        },
    )
    assert tariff.status == 201, tariff.body
    assert tariff.body["price"] == {"amount": "9.99", "currency": "EUR"}
    assert tariff.body["available_to"] == [seed.citynet.pk]
    tid = tariff.body["id"]
    assert api.patch(f"/tariffs/{tid}", {"price": "12.5"}).body["price"]["amount"] == "12.50"
    assert_error(api.patch(f"/tariffs/{tid}", {"price": "1.234"}), 422)
    assert_error(api.patch(f"/tariffs/{tid}", {"price": "-1.00"}), 422)
    assert_error(
        api.post("/tariffs", {"name": "Bad", "price": "1.00", "tax_rate_id": seed.own_vat.pk}), 422
    )
    # CityNet sees its sellable operator tariffs; OwnNet only its own.
    city = {t["name"] for t in seed.citynet_admin.get("/tariffs").body["items"]}
    assert city == {"Fiber 100", "TV"}
    own = {t["name"] for t in seed.ownnet_admin.get("/tariffs").body["items"]}
    assert own == {"Own 50"}
    price = api.post(
        "/partner-prices",
        {"partner_id": seed.citynet.pk, "tariff_id": seed.fiber.pk, "price": "24.00"},
    )
    assert price.status == 201 and price.body["price"]["amount"] == "24.00"
    again = api.patch(f"/partner-prices/{price.body['id']}", {"price": "22.50"})
    assert again.body["price"]["amount"] == "22.50"
    # Only the operator sets wholesale prices, even an own-invoicing partner's admin cannot.
    assert_error(
        seed.ownnet_admin.post(
            "/partner-prices",
            {"partner_id": seed.ownnet.pk, "tariff_id": seed.fiber.pk, "price": "1.00"},
        ),
        403,
    )
    assert_error(
        seed.support.post("/tax-rates", {"name": "Nope", "rate_bp": 100}), 403, "forbidden"
    )


def test_services_and_one_time_charges(seed: Seed) -> None:
    api = seed.citynet_admin
    created = api.post(
        "/services",
        {
            "customer_id": seed.bob.pk,
            "tariff_id": seed.fiber.pk,
            "start_date": "2026-03-10",
            "discount_bp": 1000,
            "discount_until": "2026-05-31",
        },
    )
    assert created.status == 201, created.body
    sid = created.body["id"]
    patched = api.patch(f"/services/{sid}", {"price_override": "25.00", "end_date": "2026-12-31"})
    assert patched.body["price_override"] == {"amount": "25.00", "currency": "EUR"}
    assert_error(api.patch(f"/services/{sid}", {"end_date": "2026-01-01"}), 422)
    assert_error(api.patch(f"/services/{sid}", {"quantity": 0}), 422)
    # An OwnNet tariff is not CityNet's to sell; Alice is not CityNet's customer.
    assert_error(
        api.post(
            "/services",
            {
                "customer_id": seed.bob.pk,
                "tariff_id": seed.own_tariff.pk,
                "start_date": "2026-03-01",
            },
        ),
        422,
    )
    assert_error(
        api.post(
            "/services",
            {"customer_id": seed.alice.pk, "tariff_id": seed.fiber.pk, "start_date": "2026-03-01"},
        ),
        422,
    )
    assert_error(
        api.post(
            "/services",
            {"customer_id": seed.bob.pk, "tariff_id": seed.fiber.pk, "start_date": "2026-02-30"},
        ),
        422,
    )
    assert [s["id"] for s in api.get("/services", customer_id=seed.bob.pk).body["items"]] == [sid]
    charge = api.post(
        "/one-time-charges",
        {
            "customer_id": seed.bob.pk,
            "description": "Installation",
            "quantity": 2,
            "unit_price": "49.00",
            "tax_rate_id": seed.vat.pk,
            "charge_date": "2026-03-10",
        },
    )
    assert charge.status == 201, charge.body
    assert charge.body["unit_price"]["amount"] == "49.00" and charge.body["invoiced"] is False
    assert_error(
        api.post(
            "/one-time-charges",
            {
                "customer_id": seed.bob.pk,
                "description": "X",
                "unit_price": "1.00",
                "tax_rate_id": seed.own_vat.pk,
                "charge_date": "2026-03-10",
            },
        ),
        422,
    )


def test_billing_run_preview_then_start(seed: Seed) -> None:
    api = seed.accountant
    seed.admin.post(
        "/services",
        {"customer_id": seed.alice.pk, "tariff_id": seed.fiber.pk, "start_date": "2026-01-01"},
    )
    preview = api.post("/billing-runs/preview", {"run_date": "2026-01-01"})
    assert preview.status == 200, preview.body
    assert preview.body["dry_run"] is True and preview.body["invoices_issued"] == 1
    assert preview.body["totals"] == [{"amount": "35.70", "currency": "EUR"}]
    assert seed.admin.get("/invoices").body["count"] == 0  # the preview wrote nothing
    run = api.post("/billing-runs", {"run_date": "2026-01-01"})
    assert run.status == 201, run.body
    assert (run.body["status"], run.body["progress"], run.body["invoices_issued"]) == (
        "done",
        100,
        1,
    )
    assert api.get(f"/billing-runs/{run.body['id']}").body["totals"] == [
        {"amount": "35.70", "currency": "EUR"}
    ]
    assert_error(api.post("/billing-runs", {"run_date": "2100-01-01"}), 422)
    assert_error(seed.support.post("/billing-runs", {"run_date": "2026-01-01"}), 403)
    # An own-invoicing partner runs its own billing only.
    own = seed.ownnet_admin.post("/billing-runs/preview", {"run_date": "2026-01-01"})
    assert own.status == 200 and own.body["scope_partner_id"] == seed.ownnet.pk


def test_invoices_list_detail_pdf_send(billed: Billed, mailoutbox: Any) -> None:
    api = billed.seed.admin
    first = billed.alice_invoices[0]
    detail = api.get(f"/invoices/{first}")
    assert detail.status == 200
    body = detail.body
    # 30.00 net, 5.70 VAT; credited 10.00 net + 1.90 VAT = 11.90; open 23.80.
    assert (body["net"]["amount"], body["tax"]["amount"], body["total"]["amount"]) == (
        "30.00",
        "5.70",
        "35.70",
    )
    assert (body["credited"]["amount"], body["open"]["amount"]) == ("11.90", "23.80")
    assert body["lines"][0]["period_start"] == "2026-01-01"
    assert body["taxes"] == [
        {
            "rate_bp": 1900,
            "category": "S",
            "net": {"amount": "30.00", "currency": "EUR"},
            "tax": {"amount": "5.70", "currency": "EUR"},
        }
    ]
    assert body["credit_note_ids"] == [billed.credit_note_id]
    paid = api.get("/invoices", status="paid")
    # Both of Bob's invoices are due on the same day: the payment went to the lower id.
    assert [i["id"] for i in paid.body["items"]] == [min(billed.bob_invoices)]
    by_customer = api.get("/invoices", customer_id=billed.seed.olga.pk, sort="id")
    assert [i["id"] for i in by_customer.body["items"]] == billed.olga_invoices
    assert by_customer.body["items"][0]["currency"] == "EUR"
    assert api.get("/invoices", overdue="true").body["count"] == 5
    pdf = api.get(f"/invoices/{first}/pdf")
    assert pdf.status == 200 and pdf.raw.startswith(b"%PDF")
    assert pdf.headers["Content-Type"] == "application/pdf"
    sent = api.post(f"/invoices/{first}/send", {})
    assert sent.status == 202 and sent.body["to"] == "alice@example.org"
    email = api.get(f"/emails/{sent.body['email_id']}")
    assert email.status == 200 and email.body["invoice_id"] == first
    assert_error(api.post(f"/invoices/{billed.bob_invoices[0]}/send", {}), 422)  # Bob has no email
    assert_error(api.post(f"/invoices/{first}/send", {"to": "x" * 300}), 422)
    # OwnNet's admin sees its invoices only.
    own = billed.seed.ownnet_admin.get("/invoices")
    assert sorted(i["id"] for i in own.body["items"]) == sorted(billed.olga_invoices)
    assert_error(billed.seed.ownnet_admin.get(f"/invoices/{first}/pdf"), 404)


def test_credit_notes(billed: Billed) -> None:
    api = billed.seed.admin
    second = billed.alice_invoices[1]
    line_id = api.get(f"/invoices/{second}").body["lines"][0]["id"]
    partial = api.post(
        f"/invoices/{second}/credit-notes",
        {"reason": "Goodwill", "lines": [{"invoice_line_id": line_id, "amount": "5.00"}]},
    )
    assert partial.status == 201, partial.body
    # 5.00 net at 19 %: 0.95 VAT, 5.95 total.
    assert (
        partial.body["net"]["amount"],
        partial.body["tax"]["amount"],
        partial.body["total"]["amount"],
    ) == ("5.00", "0.95", "5.95")
    # An empty list of lines is not "everything": the same rule as the web form.
    empty = api.post(f"/invoices/{second}/credit-notes", {"reason": "Oops", "lines": []})
    assert_error(empty, 422)
    assert "at least one line" in str(empty.body)
    rest = api.post(f"/invoices/{second}/credit-notes", {"reason": "Cancelled"})
    assert rest.body["net"]["amount"] == "25.00"
    assert api.get(f"/invoices/{second}").body["status"] == "credited"
    assert_error(api.post(f"/invoices/{second}/credit-notes", {"reason": "Again"}), 422)
    assert_error(api.post(f"/invoices/{second}/credit-notes", {"reason": ""}), 422)
    assert_error(
        api.post(
            f"/invoices/{second}/credit-notes",
            {"reason": "x", "lines": [{"invoice_line_id": line_id, "amount": "-1"}]},
        ),
        422,
    )
    listed = api.get("/credit-notes", invoice_id=second, sort="id")
    assert [c["total"]["amount"] for c in listed.body["items"]] == ["5.95", "29.75"]
    assert api.get(f"/credit-notes/{billed.credit_note_id}").body["total"]["amount"] == "11.90"


def test_payments_refund_import_balance_statement(billed: Billed) -> None:
    api = billed.seed.accountant
    alice = billed.seed.alice
    # Alice owes 23.80 (January, after the credit note) + 35.70 (February) = 59.50.
    balance = api.get(f"/customers/{alice.pk}/balance").body
    assert balance["balance"]["amount"] == "-59.50" and balance["open_invoices"] == 2
    paid = api.post(
        "/payments",
        {
            "customer_id": alice.pk,
            "amount": "70.00",
            "currency": "EUR",
            "date": "2026-02-20",
            "reference": "TRX-9",
        },
    )
    assert paid.status == 201, paid.body
    # Oldest first: 23.80 to January, 35.70 to February; 10.50 stays as credit.
    assert [a["amount"]["amount"] for a in paid.body["allocations"]] == ["23.80", "35.70"]
    assert paid.body["unallocated"]["amount"] == "10.50"
    balance = api.get(f"/customers/{alice.pk}/balance").body
    assert balance["balance"]["amount"] == "10.50" and balance["credit"]["amount"] == "10.50"
    refund = api.post(
        f"/payments/{paid.body['id']}/refunds", {"amount": "10.50", "reason": "Overpaid"}
    )
    assert refund.status == 201 and refund.body["amount"]["amount"] == "10.50"
    assert_error(api.post(f"/payments/{paid.body['id']}/refunds", {"amount": "0.01"}), 422)
    assert api.get(f"/customers/{alice.pk}/balance").body["balance"]["amount"] == "0.00"
    dup = api.post(
        "/payments",
        {"customer_id": alice.pk, "amount": "1.00", "currency": "EUR", "reference": "TRX-9"},
    )
    assert_error(dup, 409, "duplicate")
    assert_error(
        api.post("/payments", {"customer_id": alice.pk, "amount": "-5.00", "currency": "EUR"}), 422
    )
    assert_error(
        api.post("/payments", {"customer_id": alice.pk, "amount": "5.00", "currency": "USD"}), 422
    )
    assert_error(
        api.post("/payments", {"customer_id": 999999, "amount": "5.00", "currency": "EUR"}), 422
    )
    assert_error(
        api.post("/payments", {"customer_id": alice.pk, "amount": 5.0, "currency": "EUR"}), 422
    )
    # Dated before 2000 or after today: refused, as in the web form (one validator).
    for day in ("1900-01-01", "2099-01-01"):
        late = {"customer_id": alice.pk, "amount": "5.00", "currency": "EUR", "date": day}
        assert_error(api.post("/payments", late), 422)
    rows = [
        {
            "customer_id": billed.seed.bob.pk,
            "amount": "35.70",
            "currency": "EUR",
            "reference": "BANK-1",
        },
        {
            "customer_id": billed.seed.bob.pk,
            "amount": "35.70",
            "currency": "EUR",
            "reference": "BANK-2",
        },
    ]
    imported = api.post("/payments/import", {"payments": rows})
    assert imported.status == 201, imported.body
    assert imported.body["skipped_references"] == ["BANK-1"]
    assert len(imported.body["created"]) == 1
    again = api.post("/payments/import", {"payments": rows})
    assert again.body["created"] == [] and again.body["skipped_references"] == ["BANK-1", "BANK-2"]
    statement = api.get(
        f"/customers/{alice.pk}/statement", start="2026-02-01", end="2026-02-28"
    ).body
    kinds = [(r["kind"], r["debit"]["amount"], r["credit"]["amount"]) for r in statement["rows"]]
    assert kinds == [
        ("invoice", "35.70", "0.00"),
        ("invoice", "35.70", "0.00"),
        ("credit_note", "0.00", "11.90"),
        ("payment", "0.00", "70.00"),
    ] or kinds[:3] == [
        ("invoice", "35.70", "0.00"),
        ("invoice", "35.70", "0.00"),
        ("credit_note", "0.00", "11.90"),
    ]
    assert statement["opening_balance"]["amount"] == "0.00"
    assert_error(
        api.get(f"/customers/{alice.pk}/statement", start="2026-03-01", end="2026-02-01"), 422
    )


def test_commission_statement_approve_and_payout(billed: Billed) -> None:
    api = billed.seed.accountant
    sid = billed.statement_id
    st = api.get(f"/commission-statements/{sid}").body
    # 10 % of Bob's 30.00 net paid.
    assert st["total"] == {"amount": "3.00", "currency": "EUR"} and st["status"] == "draft"
    assert_error(api.post(f"/commission-statements/{sid}/payout", {"reference": "P-1"}), 422)
    assert api.post(f"/commission-statements/{sid}/approve", {}).body["status"] == "approved"
    paid = api.post(
        f"/commission-statements/{sid}/payout", {"reference": "P-1", "date": "2026-03-05"}
    )
    assert paid.body["status"] == "paid" and paid.body["payout_reference"] == "P-1"
    # CityNet reads its statement; it cannot approve.
    city = billed.seed.citynet_admin
    assert [s["id"] for s in city.get("/commission-statements").body["items"]] == [sid]
    assert_error(city.post(f"/commission-statements/{sid}/approve", {}), 403)
    assert_error(billed.seed.ownnet_admin.get(f"/commission-statements/{sid}"), 403)


def test_aggregated_invoices_have_sections(seed: Seed) -> None:
    from datetime import date

    from ispbill.billing.run import billing_run_start
    from ispbill.subscriptions.models import Service

    api = seed.admin
    agg = api.post("/partners", {"name": "AggNet", "mode": "aggregated", "aggregation_day": 1})
    partner = Partner.objects.get(pk=agg.body["id"])
    seed.fiber.available_to.add(partner)
    for ref in ("S-1", "S-2"):
        c = Customer.objects.create(partner=partner, reference=ref, name=f"Sub {ref}")
        Service.objects.create(
            partner=partner, customer=c, tariff=seed.fiber, start_date=date(2026, 1, 1)
        )
    billing_run_start(run_date=date(2026, 2, 1))
    listed = api.get("/aggregated-invoices")
    assert listed.body["count"] >= 1
    inv = api.get(f"/aggregated-invoices/{listed.body['items'][0]['id']}").body
    assert inv["kind"] == "aggregated" and len(inv["sections"]) == 2
    plain = Invoice.objects.exclude(kind="aggregated").values_list("pk", flat=True).first()
    assert_error(api.get(f"/aggregated-invoices/{plain}"), 404)


def test_users_tokens_and_audit(seed: Seed) -> None:
    admin = seed.admin
    user = admin.post(
        "/users", {"username": "newstaff", "role": "partner_staff", "partner_id": seed.citynet.pk}
    )
    assert user.status == 201, user.body
    uid = user.body["id"]
    assert admin.patch(f"/users/{uid}", {"is_active": False}).body["is_active"] is False
    assert_error(admin.post("/users", {"username": "newstaff", "role": "support"}), 422)
    assert_error(
        admin.post("/users", {"username": "op2", "role": "support", "partner_id": seed.citynet.pk}),
        422,
    )
    # A partner admin manages its partner's users only and creates no operator staff.
    city = seed.citynet_admin
    assert_error(city.post("/users", {"username": "evil", "role": "admin"}), 403)
    made = city.post("/users", {"username": "helper", "role": "partner_staff"})
    assert made.status == 201 and made.body["partner_id"] == seed.citynet.pk
    assert {u["username"] for u in city.get("/users").body["items"]} == {
        "city",
        "bobby",
        "helper",
        "newstaff",
    }
    token = city.post("/tokens", {"name": "crm"})
    assert token.status == 201 and token.body["token"].startswith("ispb_")
    revoked = city.delete(f"/tokens/{token.body['id']}")
    assert revoked.body["revoked_at"] is not None
    assert_error(seed.support.delete(f"/tokens/{token.body['id']}"), 404)
    events = admin.get("/audit-events", action="user.created").body
    assert events["count"] == 2
    assert admin.get(f"/audit-events/{events['items'][0]['id']}").body["action"] == "user.created"
    # CityNet's admin reads its own partner's events only.
    assert all(e["partner_id"] == seed.citynet.pk for e in city.get("/audit-events").body["items"])
    assert_error(seed.support.get("/audit-events"), 403)


def test_the_operator_sets_whether_an_issuer_emails_its_invoices_on_issue(seed):
    assert seed.admin.get(f"/partners/{seed.ownnet.pk}").body["email_invoices_on_issue"] is True
    answer = seed.admin.patch(f"/partners/{seed.ownnet.pk}", {"email_invoices_on_issue": False})
    assert answer.status == 200 and answer.body["email_invoices_on_issue"] is False
    assert not Partner.objects.get(pk=seed.ownnet.pk).email_invoices_on_issue
    refused = seed.ownnet_admin.patch(
        f"/partners/{seed.ownnet.pk}", {"email_invoices_on_issue": True}
    )
    assert refused.status in (403, 404)
    assert not Partner.objects.get(pk=seed.ownnet.pk).email_invoices_on_issue
