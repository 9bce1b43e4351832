"""One billing run of a scope and date at a time, enforced by a partial unique index.

Runs left ``running`` twice for the same scope and date (a double click before this
constraint) are resolved first: every one but the newest is marked failed, superseded by it
(what they committed stays; the newest, or the next run, does what they left)."""

import django.db.models.functions.comparison
from django.db import migrations, models


def _older_duplicates_fail(apps, schema_editor):  # type: ignore[no-untyped-def]
    from django.utils import timezone

    BillingRun = apps.get_model("billing", "BillingRun")
    newest: dict[tuple[int, object], int] = {}
    running = BillingRun.objects.filter(status="running", dry_run=False).order_by("-id")
    for pk, scope, run_date in running.values_list("pk", "scope_partner_id", "run_date"):
        key = (scope or 0, run_date)
        if key not in newest:
            newest[key] = pk
            continue
        BillingRun.objects.filter(pk=pk).update(
            status="failed",
            error=f"Superseded by billing run {newest[key]}, which did what this one had left.",
            finished_at=timezone.now(),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0011_plan_changes"),
    ]

    operations = [
        migrations.RunPython(_older_duplicates_fail, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="billingrun",
            constraint=models.UniqueConstraint(
                django.db.models.functions.comparison.Coalesce("scope_partner", models.Value(0)),
                models.F("run_date"),
                condition=models.Q(("dry_run", False), ("status", "running")),
                name="billingrun_one_running_per_scope_date",
            ),
        ),
    ]
