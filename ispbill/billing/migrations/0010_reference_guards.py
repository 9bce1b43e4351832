"""The references without a database constraint guarded on both databases.

PostgreSQL has had triggers on invoices, journal entries, customers, services and one-time
charges since billing 0008, invoicing 0008 and ledger 0003; this adds the same guards on
SQLite, and on both the ones for partners, tariffs and billing runs, so that every
``db_constraint=False`` reference's target refuses its deletion while referenced
(ispbill/core/guards.py; docs/development.md, "Reference guards")."""

from django.db import migrations

from ispbill.core.guards import (
    delete_refused,
    delete_refused_while_referenced,
    flush_table_create,
)

BOTH = ("postgresql", "sqlite")
SQLITE = ("sqlite",)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0009_run_failures"),
        ("catalog", "0002_initial"),
        ("customers", "0005_customer_fillfactor"),
        ("invoicing", "0010_document_pdf_error"),
        ("ledger", "0004_customer_refs_unconstrained"),
        ("partners", "0006_document_refs_unconstrained"),
        ("subscriptions", "0003_service_fillfactor"),
    ]

    operations = [
        flush_table_create(),
        # What PostgreSQL already has, now on SQLite.
        delete_refused(
            "invoicing_invoice",
            "an issued invoice is corrected with a credit note",
            vendors=SQLITE,
        ),
        delete_refused(
            "ledger_journalentry", "ledger entries are reversed, not removed", vendors=SQLITE
        ),
        delete_refused_while_referenced(
            "customers_customer",
            [
                ("billing_charge", "customer_id"),
                ("billing_charge", "account_id"),
                ("invoicing_invoice", "customer_id"),
                ("invoicing_invoiceline", "section_customer_id"),
                ("ledger_posting", "customer_id"),
            ],
            vendors=SQLITE,
        ),
        delete_refused_while_referenced(
            "subscriptions_service", [("billing_charge", "service_id")], vendors=SQLITE
        ),
        delete_refused_while_referenced(
            "subscriptions_onetimecharge",
            [("billing_charge", "one_time_charge_id")],
            vendors=SQLITE,
        ),
        # New on both.
        delete_refused_while_referenced(
            "partners_partner",
            [
                ("billing_charge", "partner_id"),
                ("billing_charge", "issuer_id"),
                ("invoicing_invoice", "partner_id"),
                ("invoicing_invoice", "issuer_id"),
                ("ledger_journalentry", "partner_id"),
                ("ledger_posting", "partner_id"),
                ("ledger_posting", "counterparty_id"),
                ("partners_commissionaccrual", "partner_id"),
            ],
            vendors=BOTH,
        ),
        delete_refused_while_referenced(
            "catalog_tariff",
            [("billing_charge", "tariff_id"), ("invoicing_invoiceline", "tariff_id")],
            vendors=BOTH,
        ),
        delete_refused_while_referenced(
            "billing_billingrun", [("invoicing_invoice", "billing_run_id")], vendors=BOTH
        ),
    ]
