"""Issuers e-mail their invoices once issued (docs/documents.md, "Invoices e-mailed on
issue"). On by default for a new installation; an installation that has issued invoices
already keeps e-mailing them by hand until an issuer switches it on, so an upgrade never
starts e-mailing customers by itself."""

from django.db import migrations, models


def off_where_invoices_were_issued(apps, schema_editor):  # type: ignore[no-untyped-def]
    Invoice = apps.get_model("invoicing", "Invoice")
    Partner = apps.get_model("partners", "Partner")
    if Invoice.objects.exists():
        Partner.objects.update(email_invoices_on_issue=False)


class Migration(migrations.Migration):

    dependencies = [
        ("invoicing", "0014_run_tables_partial_indexes"),
        ("partners", "0012_run_tables_partial_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="partner",
            name="email_invoices_on_issue",
            field=models.BooleanField(
                default=True,
                help_text="Each invoice this issuer issues goes by e-mail, with its PDF, to "
                "the customer's address once issued (a billing run's after each chunk).",
                verbose_name="E-mail invoices when issued",
            ),
        ),
        migrations.RunPython(off_where_invoices_were_issued, migrations.RunPython.noop),
    ]
