from django.db import migrations

from ispbill.core.fillfactor import BILLING_UPDATED_FILLFACTOR, fillfactor_set


class Migration(migrations.Migration):
    dependencies = [("customers", "0004_reminder")]

    operations = [fillfactor_set("customers_customer", BILLING_UPDATED_FILLFACTOR)]
