from django.db import migrations

from ispbill.core.fillfactor import BILLING_UPDATED_FILLFACTOR, fillfactor_set


class Migration(migrations.Migration):
    dependencies = [("subscriptions", "0002_service_wholesale_charged_through")]

    operations = [fillfactor_set("subscriptions_service", BILLING_UPDATED_FILLFACTOR)]
