"""The order of a run's chunks (``chunk_plan``) and where a partner's aggregation is queued.

The customers of each partner billed in the aggregation phase, and its account, come first,
in chunks of their own: that partner's aggregation depends on those chunks only, so with a
broker it starts while the other chunks are still running."""

from __future__ import annotations

from datetime import date

import pytest

from ispbill.billing.run import chunk_plan, customers_due
from ispbill.billing.tasks import billing_aggregate_partner_task, billing_chunk_task
from ispbill.celery import app
from ispbill.partners.models import PartnerMode
from ispbill.partners.services import partner_home
from tests.factories import CustomerFactory, PartnerFactory, ServiceFactory, TariffFactory

pytestmark = pytest.mark.django_db
RUN_DATE = date(2026, 4, 5)


def _world():
    """Customers created in turn: home, aggregated A, home, own-invoicing B (wholesale),
    percentage C, ... so every partner's customers are spread over the id range."""
    home = partner_home()
    agg = PartnerFactory(name="Agg", mode=PartnerMode.AGGREGATED, aggregation_day=5)
    own = PartnerFactory(
        name="Own", mode=PartnerMode.OWN_INVOICING, billing_day=5, wholesale_charges=True
    )
    pct = PartnerFactory(name="Pct", mode=PartnerMode.PERCENTAGE, commission_bp=1000)
    for p in (agg, own):
        p.account = CustomerFactory(partner=home, reference=f"ACC-{p.name}", name=p.name)
        p.save(update_fields=["account"])
    fiber = TariffFactory(name="Fiber", price_minor=3000)
    fiber.available_to.add(own)
    order = [home, agg, home, own, pct]
    for i in range(15):
        c = CustomerFactory(partner=order[i % 5], reference=f"R{i:03d}")
        ServiceFactory(customer=c, tariff=fiber, start_date=date(2026, 3, 5))
    return home, agg, own, pct


def test_the_aggregating_partners_customers_and_accounts_come_first_in_chunks_of_their_own():
    home, agg, own, pct = _world()
    due = [pk for pk, _ in customers_due(run_date=RUN_DATE)]
    plan = chunk_plan(run_date=RUN_DATE, issuer=None, chunk_size=2)

    def ids_of(p):
        return sorted(i for i in due if _partner_of(i) == p.pk)

    # Agg: 3 customers and its account (a customer of the home partner) = 4 ids, 2 chunks.
    assert list(plan.first) == [agg.pk, own.pk]  # the aggregating partners, by id
    assert plan.first[agg.pk] == [
        sorted([*ids_of(agg), agg.account_id])[:2],
        sorted([*ids_of(agg), agg.account_id])[2:],
    ]
    assert [i for c in plan.first[own.pk] for i in c] == sorted([*ids_of(own), own.account_id])
    rest = [i for c in plan.rest for i in c]
    assert rest == sorted(set(due) - {i for cs in plan.first.values() for c in cs for i in c})
    assert {_partner_of(i) for i in rest} == {home.pk, pct.pk}
    assert agg.account_id not in rest and own.account_id not in rest
    # Every due customer is in exactly one chunk, none larger than asked; first ones first.
    assert sorted(i for c in plan.chunks for i in c) == sorted(due)
    assert all(1 <= len(c) <= 2 for c in plan.chunks)
    assert plan.chunks[: len(plan.first[agg.pk])] == plan.first[agg.pk]


def test_a_run_of_one_issuers_customers_has_no_first_part():
    _home, agg, *_ = _world()
    plan = chunk_plan(run_date=RUN_DATE, issuer=agg, chunk_size=10)
    assert plan.first == {}
    assert plan.chunks == [sorted(pk for pk, _ in customers_due(run_date=RUN_DATE, issuer=agg))]


def test_a_partners_aggregation_goes_to_the_queue_workers_take_first():
    route = app.amqp.router.route({}, billing_aggregate_partner_task.name)
    assert route["queue"].name == "ispbill.first"
    assert app.amqp.router.route({}, billing_chunk_task.name)["queue"].name == "celery"
    # A worker started without -Q takes all three queues.
    assert {q.name for q in app.conf.task_queues} == {
        "celery",
        "ispbill.first",
        "ispbill.documents",
    }


def test_pdfs_and_emails_go_to_a_queue_of_their_own():
    """A run's chunks and summary never wait behind the PDFs of the chunks before them."""
    from ispbill.billing.tasks import billing_finish_task
    from ispbill.invoicing.tasks import (
        credit_notes_pdf_render_task,
        email_deliveries_send_task,
        email_delivery_send_task,
        invoices_pdf_render_task,
    )

    for task in (
        invoices_pdf_render_task,
        credit_notes_pdf_render_task,
        email_delivery_send_task,
        email_deliveries_send_task,
    ):
        assert app.amqp.router.route({}, task.name)["queue"].name == "ispbill.documents"
    for task in (billing_chunk_task, billing_finish_task):
        assert app.amqp.router.route({}, task.name)["queue"].name == "celery"


def _partner_of(customer_id: int) -> int:
    from ispbill.customers.models import Customer

    return Customer.objects.get(pk=customer_id).partner_id
