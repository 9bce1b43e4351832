from django.db import migrations, models


class Migration(migrations.Migration):
    """Indexes for invoice lists, newest first, at a million invoices and more."""

    dependencies = [
        ("invoicing", "0005_emaildelivery"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="invoice",
            name="invoicing_i_partner_0753e5_idx",
        ),
        migrations.AddIndex(
            model_name="invoice",
            index=models.Index(
                fields=["partner", "-issue_date", "-id"], name="invoice_partner_issued"
            ),
        ),
        migrations.AddIndex(
            model_name="invoice",
            index=models.Index(
                fields=["partner", "status", "-issue_date", "-id"], name="invoice_partner_status"
            ),
        ),
    ]
