from django.db import migrations


def create_home_partner(apps, schema_editor):
    Partner = apps.get_model("partners", "Partner")
    if not Partner.objects.filter(is_home=True).exists():
        Partner.objects.create(name="Main", legal_name="Main", mode="direct", is_home=True)


class Migration(migrations.Migration):
    dependencies = [("partners", "0001_initial")]
    operations = [migrations.RunPython(create_home_partner, migrations.RunPython.noop)]
