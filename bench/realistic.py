"""The realistic data set of the billing benchmark (``bench/billing_run.py --data realistic``).

Seeded and deterministic: the same ``--customers`` and ``--seed`` give the same rows. Its shape
is described in docs/performance.md ("The realistic data set"). Written set-based: customers
and services with COPY, a March billing run (the product's own run, in this process, PDFs
off) to give everyone a history of issued invoices, payments written with COPY and allocated
by the product's set-based ``credit_apply``, then the changes of March (new customers and
services starting on every day of the month, plan changes, pauses, stops) as a few
statements. The benchmark then bills 2026-04-05.
"""

from __future__ import annotations

import random
import time
from datetime import date, timedelta
from typing import Any

HISTORY_DATE = date(2026, 3, 5)  # the March run: every customer gets an invoice
RUN_DATE = date(2026, 4, 5)  # the measured run
PAYMENT_DATES = [date(2026, 3, d) for d in range(8, 29)]
HOME_TARIFFS = 240
OWN_TARIFFS = 40
PARTNER_PRICES = 120  # tariffs with a wholesale price, per aggregated partner
BATCH = 20_000


def _add_months(d: date, months: int) -> date:
    month = d.month - 1 + months
    return date(d.year + month // 12, month % 12 + 1, d.day)


def _partners() -> dict[str, Any]:
    """The issuers and resellers with their tax rates and catalogs (ORM: a few hundred rows)."""
    from ispbill.catalog.models import PartnerPrice, Tariff, TaxRate
    from ispbill.customers.models import Customer
    from ispbill.partners.models import Partner

    rng = random.Random(25)
    home = Partner.objects.get(is_home=True)
    home.email = "billing@operator.example"
    home.iban = "DE89370400440532013000"
    home.save()
    parts: dict[str, Any] = {"home": home}
    parts["pct_invoiced"] = Partner.objects.create(
        name="Reseller North", mode="percentage", commission_bp=1250, commission_base="invoiced"
    )
    parts["pct_paid"] = Partner.objects.create(
        name="Reseller South", mode="percentage", commission_bp=800, commission_base="paid"
    )
    parts["own_net"] = Partner.objects.create(
        name="CityNet",
        mode="own_invoicing",
        billing_day=3,
        runs_own_billing=False,
        email="billing@citynet.example",
        iban="DE02120300000000202051",
        invoice_number_pattern="CN{year}{next|7}",
    )
    parts["own_gross"] = Partner.objects.create(
        name="ValleyFiber",
        mode="own_invoicing",
        billing_day=5,
        runs_own_billing=False,
        prices_include_tax=True,
        email="billing@valley.example",
        invoice_number_pattern="VF-{year}-{next|7}",
    )
    parts["agg_monthly"] = Partner.objects.create(
        name="Wholesale East",
        mode="aggregated",
        aggregation_day=5,
        aggregation_cycle=1,
        discount_bp=2000,
    )
    parts["agg_priced"] = Partner.objects.create(
        name="Wholesale West", mode="aggregated", aggregation_day=1, aggregation_cycle=1
    )
    for key in ("pct_invoiced", "pct_paid", "agg_monthly", "agg_priced"):
        p = parts[key]
        p.account = Customer.objects.create(
            partner=home, reference=f"P{p.pk}", name=p.name, email=f"p{p.pk}@example.net"
        )
        p.save()
    vat = {
        issuer: [
            TaxRate.objects.create(partner=parts[issuer], name="VAT 19%", rate_bp=1900),
            TaxRate.objects.create(partner=parts[issuer], name="VAT 7%", rate_bp=700),
        ]
        for issuer in ("home", "own_net", "own_gross")
    }

    def catalog(issuer: str, n: int) -> list[tuple[int, int]]:
        """(tariff id, period months) of ``n`` tariffs: mostly monthly, some quarterly and
        yearly, one in ten at the reduced rate; prices from 5 to 150 (yearly: 12 times)."""
        rows = []
        for i in range(n):
            months = rng.choices([1, 3, 12], weights=[85, 10, 5])[0]
            price = rng.randrange(500, 15_000, 10) * months
            tariff = Tariff.objects.create(
                partner=parts[issuer],
                name=f"{parts[issuer].name} plan {i + 1}",
                kind="internet" if i % 4 else "recurring",
                price_minor=price,
                tax_rate=vat[issuer][1 if i % 10 == 7 else 0],
                period_months=months,
                download_kbps=rng.choice([50_000, 100_000, 250_000, 500_000, 1_000_000]),
            )
            rows.append((tariff.pk, months))
        return rows

    tariffs = {
        "home": catalog("home", HOME_TARIFFS),
        "own_net": catalog("own_net", OWN_TARIFFS),
        "own_gross": catalog("own_gross", OWN_TARIFFS),
    }
    for key in ("agg_monthly", "agg_priced"):
        for tariff_id, _ in rng.sample(tariffs["home"], PARTNER_PRICES):
            PartnerPrice.objects.create(
                partner=parts[key], tariff_id=tariff_id, price_minor=rng.randrange(300, 9_000, 10)
            )
    parts["tariffs"] = tariffs
    return parts


# Share of the customers per partner (the rest is the operator's own).
SHARES = [
    ("home", 40),
    ("pct_invoiced", 10),
    ("pct_paid", 10),
    ("own_net", 10),
    ("own_gross", 10),
    ("agg_monthly", 10),
    ("agg_priced", 10),
]
CATALOG_OF = {"own_net": "own_net", "own_gross": "own_gross"}  # the others sell the operator's


def populate_realistic(n_customers: int, *, seed: int = 25) -> dict[str, Any]:
    """Write the realistic data set; returns counts and the seconds each step took."""
    from billing_run import CUSTOMER_COLUMNS, copy_rows
    from django.db import connection
    from django.test import override_settings

    from ispbill.billing.run import billing_run_start
    from ispbill.core.tenancy import system_scope

    rng = random.Random(seed)
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    with system_scope():
        parts = _partners()
    keys = [k for k, _ in SHARES]
    weights = [w for _, w in SHARES]
    partner_of = {k: parts[k].pk for k in keys}
    billing_day = {k: parts[k].billing_day if k.startswith("own") else 1 for k in keys}
    billing_day["agg_monthly"] = 5
    postgres = connection.vendor == "postgresql"

    # -- customers ------------------------------------------------------------------------
    kinds = rng.choices(keys, weights=weights, k=n_customers)
    # Direct and percentage customers bill on their own day (1 to 5) one time in five.
    days = [
        rng.randint(2, 5) if k in ("home", "pct_invoiced", "pct_paid") and rng.random() < 0.2 else 0
        for k in kinds
    ]
    cities = [("20457", "Hamburg"), ("10115", "Berlin"), ("80331", "München"), ("50667", "Köln")]

    def customer_rows():  # type: ignore[no-untyped-def]
        for i, k in enumerate(kinds):
            company = rng.random() < 0.1
            postcode, city = cities[i % 4]
            yield (
                partner_of[k],
                f"R{i:07d}",
                f"Customer {i}",
                f"Company {i} GmbH" if company else "",
                f"r{i}@example.net",
                "+49 40 123456" if i % 3 == 0 else "",
                f"Street {i % 200 + 1}",
                postcode,
                city,
                "DE",
                f"DE{100000000 + i}" if company else "",
                "de" if rng.random() < 0.6 else "en",
                "active",
                "2025-01-01T00:00:00Z",
                "",
            )

    with connection.cursor() as cur:
        copy_rows(cur, "customers_customer", CUSTOMER_COLUMNS, customer_rows())
        cur.execute("SELECT id FROM customers_customer WHERE reference LIKE %s ORDER BY id", ["R%"])
        customer_ids = [row[0] for row in cur.fetchall()]
        day_of = {}
        for cid, k, d in zip(customer_ids, kinds, days, strict=True):
            day_of[cid] = d or billing_day[k]
        overrides = [(cid, d) for cid, d in zip(customer_ids, days, strict=True) if d]
        _update_pairs(cur, postgres, "customers_customer", "billing_day", overrides)
        # Everyone was billed on their February billing date.
        cur.execute(
            "UPDATE customers_customer SET billed_through = "
            + (
                "make_date(2026, 2, COALESCE(billing_day, 1))"
                if postgres
                else "'2026-02-0' || COALESCE(billing_day, 1)"
            )
            + " WHERE reference LIKE %s",
            ["R%"],
        )
        for k in ("own_net", "own_gross", "agg_monthly"):
            cur.execute(
                "UPDATE customers_customer SET billed_through = %s WHERE partner_id = %s "
                "AND billing_day IS NULL",
                [date(2026, 2, billing_day[k]), partner_of[k]],
            )
        timings["customers"] = time.monotonic() - t0

        # -- services ---------------------------------------------------------------------
        t1 = time.monotonic()
        tariffs = parts["tariffs"]
        service_columns = [
            "partner_id",
            "customer_id",
            "tariff_id",
            "description",
            "quantity",
            "price_override_minor",
            "discount_bp",
            "discount_until",
            "start_date",
            "end_date",
            "status",
            "charged_through",
            "created_at",
        ]

        def service(cid: int, k: str, extra: bool) -> tuple[Any, ...]:
            catalog = tariffs[CATALOG_OF.get(k, "home")]
            tariff_id, months = rng.choice(catalog)
            day = day_of[cid]
            march = date(2026, 3, day)
            # Charged through the next period start at or after the March billing date.
            charged = _add_months(march, rng.randrange(months))
            start = _add_months(charged, -months * rng.randint(1, 3))
            discount, until = 0, None
            if rng.random() < 0.12:
                discount = rng.choice([500, 1000, 2500, 5000])
                # Ends on any day from mid-March to June: some run out inside April's period.
                until = date(2026, 3, 15) + timedelta(days=rng.randrange(0, 108))
            return (
                partner_of[k],
                cid,
                tariff_id,
                "Static IP" if extra else "Internet",
                rng.choice([1, 1, 2, 3, 4]) if extra else 1,
                rng.randrange(0, 5_000, 10) if rng.random() < 0.05 else None,
                discount,
                until,
                start,
                None,
                "active",
                charged,
                "2025-01-01T00:00:00Z",
            )

        def service_rows():  # type: ignore[no-untyped-def]
            for cid, k in zip(customer_ids, kinds, strict=True):
                yield service(cid, k, False)
                for _ in range(rng.choices([0, 1, 2], weights=[60, 30, 10])[0]):
                    yield service(cid, k, True)

        n_services = copy_rows(cur, "subscriptions_service", service_columns, service_rows())
        cur.execute("ANALYZE")
        timings["services"] = time.monotonic() - t1

    # -- history: the March run, then payments --------------------------------------------
    t2 = time.monotonic()
    with (
        system_scope(),
        override_settings(
            RENDER_PDFS_ON_ISSUE=False,
            EMAIL_INVOICES_ON_ISSUE=False,  # the history is not e-mailed
            CELERY_TASK_ALWAYS_EAGER=True,
            BILLING_THREADS=2 if postgres else 1,
        ),
    ):
        summary = billing_run_start(run_date=HISTORY_DATE, started_by="bench history")
    if summary.stats.failures:
        raise SystemExit(f"the March run failed for {summary.stats.failures} customers")
    timings["march_run"] = time.monotonic() - t2
    t3 = time.monotonic()
    n_payments = _payments(rng, postgres)
    timings["payments"] = time.monotonic() - t3

    # -- March: new customers and services, plan changes, pauses, stops -------------------
    t4 = time.monotonic()
    changes = _march_changes(rng, parts, kinds, customer_ids, day_of, service_columns, postgres)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    timings["march_changes"] = time.monotonic() - t4
    return {
        "customers": len(customer_ids) + changes["new_customers"],
        "services": n_services + changes["new_services"],
        "payments": n_payments,
        **{k: v for k, v in changes.items() if k not in ("new_services",)},
        "populate_seconds": round(time.monotonic() - t0, 1),
        "populate_steps": {k: round(v, 1) for k, v in timings.items()},
    }


def _update_pairs(cur, postgres: bool, table: str, column: str, pairs) -> None:  # type: ignore[no-untyped-def]
    """``UPDATE table SET column = value WHERE id = key`` for (key, value) pairs, in batches."""
    pairs = list(pairs)
    for i in range(0, len(pairs), BATCH):
        part = pairs[i : i + BATCH]
        if postgres:
            cur.execute(
                f"UPDATE {table} AS t SET {column} = v.val FROM unnest(%s::bigint[], "
                f"%s::{'date' if isinstance(part[0][1], date) else 'bigint'}[]) AS v(id, val) "
                "WHERE t.id = v.id",
                [[p[0] for p in part], [p[1] for p in part]],
            )
        else:
            cur.executemany(
                f"UPDATE {table} SET {column} = %s WHERE id = %s", [(v, k) for k, v in part]
            )


def _payments(rng: random.Random, postgres: bool) -> int:
    """Payments for the March invoices: 45 % paid in full, 15 % in part, 10 % more than due
    (credit for April), 30 % not at all; written with COPY, posted to the ledger in bulk,
    allocated by ``credit_apply`` (the product's set-based allocation)."""
    from django.db import connection, transaction

    from ispbill.core.tenancy import system_scope
    from ispbill.ledger.posting import ledger_post_many, payment_entry
    from ispbill.payments.services import credit_apply

    with connection.cursor() as cur:
        cur.execute(
            "SELECT id, partner_id, issuer_id, customer_id, total_minor, currency "
            "FROM invoicing_invoice WHERE billing_date <= %s AND kind = 'recurring' ORDER BY id",
            [HISTORY_DATE],
        )
        invoices = cur.fetchall()
    rows = []
    for inv_id, partner_id, issuer_id, customer_id, total, currency in invoices:
        roll = rng.random()
        if roll < 0.45:
            amount = total
        elif roll < 0.60:
            amount = max(1, total // 2)
        elif roll < 0.70:
            amount = total + rng.randrange(500, 3_000, 100)
        else:
            continue
        if amount <= 0:
            continue
        rows.append(
            (
                partner_id,
                issuer_id,
                customer_id,
                amount,
                currency,
                rng.choice(PAYMENT_DATES),
                f"TRF-{inv_id}",
            )
        )
    from billing_run import copy_rows

    columns = [
        "partner_id",
        "issuer_id",
        "customer_id",
        "amount_minor",
        "allocated_minor",
        "refunded_minor",
        "currency",
        "date",
        "method",
        "reference",
        "receipt_number",
        "note",
        "created_at",
    ]
    with system_scope():
        for i in range(0, len(rows), BATCH):
            part = rows[i : i + BATCH]
            with transaction.atomic(), connection.cursor() as cur:
                copy_rows(
                    cur,
                    "payments_payment",
                    columns,
                    (
                        (
                            p,
                            iss,
                            c,
                            a,
                            0,
                            0,
                            cur_,
                            d,
                            "bank_transfer",
                            ref,
                            "",
                            "",
                            "2026-03-28T00:00:00Z",
                        )
                        for p, iss, c, a, cur_, d, ref in part
                    ),
                )
                cur.execute(
                    "SELECT id, issuer_id, customer_id, amount_minor, currency, date, reference "
                    "FROM payments_payment WHERE reference = ANY(%s)"
                    if postgres
                    else "SELECT id, issuer_id, customer_id, amount_minor, currency, date, "
                    "reference FROM payments_payment WHERE reference IN ("
                    + ", ".join(["%s"] * len(part))
                    + ")",
                    [[r[6] for r in part]] if postgres else [r[6] for r in part],
                )
                written = cur.fetchall()
                ledger_post_many(
                    [
                        payment_entry(
                            issuer_id=iss,
                            payment_id=pk,
                            customer_id=c,
                            on=d,
                            currency=cur_,
                            amount_minor=a,
                            reference=ref,
                        )
                        for pk, iss, c, a, cur_, d, ref in written
                    ]
                )
                credit_apply(customer_ids=[r[2] for r in written], on=date(2026, 3, 28))
    return len(rows)


def _march_changes(  # type: ignore[no-untyped-def]
    rng: random.Random, parts, kinds, customer_ids, day_of, service_columns, postgres
) -> dict[str, int]:
    """What happened in March after the March run: 5 % new customers, whose service starts on
    any day up to the run date; 4 % of customers with a second service from a day in March;
    3 % of services changed plan on a day in March (the old one ends the day before, the new
    one starts with another tariff); 2 % paused; 1 % stopped."""
    from billing_run import CUSTOMER_COLUMNS, copy_rows
    from django.db import connection

    tariffs = parts["tariffs"]
    days_in_march = [date(2026, 3, 6) + timedelta(days=d) for d in range(30)]
    n_new = max(1, len(customer_ids) // 20)
    new_kinds = rng.choices([k for k, _ in SHARES], weights=[w for _, w in SHARES], k=n_new)
    with connection.cursor() as cur:
        copy_rows(
            cur,
            "customers_customer",
            CUSTOMER_COLUMNS,
            (
                (
                    parts[k].pk,
                    f"N{i:07d}",
                    f"New customer {i}",
                    "",
                    f"n{i}@example.net",
                    "",
                    "Street 9",
                    "20457",
                    "Hamburg",
                    "DE",
                    "",
                    "de" if i % 2 else "en",
                    "active",
                    "2026-03-06T00:00:00Z",
                    "",
                )
                for i, k in enumerate(new_kinds)
            ),
        )
        cur.execute("SELECT id FROM customers_customer WHERE reference LIKE %s ORDER BY id", ["N%"])
        new_ids = [row[0] for row in cur.fetchall()]

        def fresh(cid: int, k: str, description: str, start: date, tariff_id: int | None = None):  # type: ignore[no-untyped-def]
            if tariff_id is None:
                tariff_id = rng.choice(tariffs[CATALOG_OF.get(k, "home")])[0]
            return (
                parts[k].pk,
                cid,
                tariff_id,
                description,
                rng.choice([1, 1, 1, 2]),
                None,
                0,
                None,
                start,
                None,
                "active",
                None,
                "2026-03-06T00:00:00Z",
            )

        rows = [
            fresh(cid, k, "Internet", rng.choice(days_in_march))
            for cid, k in zip(new_ids, new_kinds, strict=True)
        ]
        added = rng.sample(range(len(customer_ids)), len(customer_ids) // 25)
        rows += [fresh(customer_ids[i], kinds[i], "TV", rng.choice(days_in_march)) for i in added]
        # Plan changes: monthly services of active customers, on a day after their March
        # billing date, to another tariff of the same catalog.
        cur.execute(
            "SELECT s.id, s.customer_id, c.partner_id FROM subscriptions_service s "
            "JOIN customers_customer c ON c.id = s.customer_id "
            "JOIN catalog_tariff t ON t.id = s.tariff_id "
            "WHERE t.period_months = 1 AND s.description = 'Internet' AND c.reference LIKE %s "
            "ORDER BY s.id",
            ["R%"],
        )
        monthly = cur.fetchall()
        kind_of_partner = {parts[k].pk: k for k, _ in SHARES}
        changed = rng.sample(monthly, len(monthly) * 3 // 100)
        ends = []
        for service_id, cid, partner_id in changed:
            change = rng.choice(days_in_march[: 28 - day_of[cid]] or days_in_march[:1])
            ends.append((service_id, change - timedelta(days=1)))
            rows.append(fresh(cid, kind_of_partner[partner_id], "Internet", change))
        n_services = copy_rows(cur, "subscriptions_service", service_columns, rows)
        _update_pairs(cur, postgres, "subscriptions_service", "end_date", ends)
        changed_ids = {s for s, _ in ends}
        rest = [s for s, _, _ in monthly if s not in changed_ids]
        chosen = rng.sample(rest, len(rest) * 3 // 100)
        paused, stopped = chosen[: len(chosen) * 2 // 3], chosen[len(chosen) * 2 // 3 :]
        for i in range(0, len(paused), BATCH):
            part = paused[i : i + BATCH]
            cur.execute(
                "UPDATE subscriptions_service SET status = 'paused' WHERE id IN ("
                + ", ".join(["%s"] * len(part))
                + ")",
                part,
            )
        _update_pairs(
            cur,
            postgres,
            "subscriptions_service",
            "end_date",
            [(s, rng.choice(days_in_march[:20])) for s in stopped],
        )
        for i in range(0, len(stopped), BATCH):
            part = stopped[i : i + BATCH]
            cur.execute(
                "UPDATE subscriptions_service SET status = 'stopped' WHERE id IN ("
                + ", ".join(["%s"] * len(part))
                + ")",
                part,
            )
    return {
        "new_customers": len(new_ids),
        "new_services": n_services,
        "added_services": len(added),
        "plan_changes": len(changed),
        "paused": len(paused),
        "stopped": len(stopped),
    }
