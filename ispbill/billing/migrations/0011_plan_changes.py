"""Plan changes: the PlanChange model, the credits of charges, their guards."""

import django.db.models.deletion
from django.db import migrations, models

from ispbill.core.guards import delete_refused, delete_refused_while_referenced

# The plan-change references of charges carry no constraint (as the table's others): their
# targets are guarded on both databases (ispbill/core/guards.py).
BOTH = ("postgresql", "sqlite")


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0010_reference_guards'),
        ('catalog', '0003_tariff_customer_selectable'),
        ('customers', '0005_customer_fillfactor'),
        ('invoicing', '0010_document_pdf_error'),
        ('partners', '0007_plan_change_and_fee_settings'),
        ('subscriptions', '0004_one_time_charge_fees'),
    ]

    operations = [
        migrations.CreateModel(
            name='PlanChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('effective_date', models.DateField()),
                ('status', models.CharField(choices=[('scheduled', 'Scheduled'), ('applied', 'Applied'), ('cancelled', 'Cancelled')], default='scheduled', max_length=10)),
                ('requested_by', models.CharField(blank=True, max_length=150)),
                ('via_portal', models.BooleanField(default=False, help_text='Asked by the customer in the portal')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('applied_at', models.DateTimeField(blank=True, null=True)),
                ('cancelled_at', models.DateTimeField(blank=True, null=True)),
                ('cancelled_by', models.CharField(blank=True, max_length=150)),
            ],
            options={
                'ordering': ['-effective_date', '-id'],
            },
        ),
        migrations.RemoveConstraint(
            model_name='charge',
            name='charge_once_per_service_period',
        ),
        migrations.AddField(
            model_name='charge',
            name='credit_note',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='invoicing.creditnote'),
        ),
        migrations.AddField(
            model_name='charge',
            name='credit_of',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='billing.charge'),
        ),
        migrations.AddField(
            model_name='charge',
            name='credited_from',
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='billingfailure',
            name='stage',
            field=models.CharField(choices=[('customer', "Customer's billing"), ('aggregation', "Partner's aggregation"), ('dunning', 'Dunning'), ('reminder', 'Reminder'), ('plan_change', 'Plan change')], max_length=12),
        ),
        migrations.AddField(
            model_name='planchange',
            name='customer',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='plan_changes', to='customers.customer'),
        ),
        migrations.AddField(
            model_name='planchange',
            name='fee',
            field=models.ForeignKey(blank=True, help_text='The upgrade or downgrade fee charged when it was applied', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='subscriptions.onetimecharge'),
        ),
        migrations.AddField(
            model_name='planchange',
            name='invoice',
            field=models.ForeignKey(blank=True, help_text='The invoice issued at once for it, where the issuer invoices changes so', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='invoicing.invoice'),
        ),
        migrations.AddField(
            model_name='planchange',
            name='new_tariff',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='catalog.tariff'),
        ),
        migrations.AddField(
            model_name='planchange',
            name='old_tariff',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='catalog.tariff'),
        ),
        migrations.AddField(
            model_name='planchange',
            name='partner',
            field=models.ForeignKey(help_text="Tenant: the customer's partner", on_delete=django.db.models.deletion.PROTECT, related_name='+', to='partners.partner'),
        ),
        migrations.AddField(
            model_name='planchange',
            name='service',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='plan_changes', to='subscriptions.service'),
        ),
        migrations.AddField(
            model_name='charge',
            name='plan_change',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='charges', to='billing.planchange'),
        ),
        migrations.AddConstraint(
            model_name='charge',
            constraint=models.UniqueConstraint(condition=models.Q(('credit_of__isnull', True), ('service__isnull', False), models.Q(('credited_from__isnull', True), ('credited_from__gt', models.F('period_start')), _connector='OR')), fields=('service', 'kind', 'period_start'), name='charge_once_per_service_period'),
        ),
        migrations.AddConstraint(
            model_name='charge',
            constraint=models.UniqueConstraint(condition=models.Q(('credit_of__isnull', False)), fields=('credit_of',), name='charge_credited_once'),
        ),
        migrations.AddConstraint(
            model_name='charge',
            constraint=models.CheckConstraint(condition=models.Q(('credited_from__isnull', True), models.Q(('credited_from__gte', models.F('period_start')), ('credited_from__lte', models.F('period_end'))), _connector='OR'), name='charge_credited_within_period'),
        ),
        migrations.AddIndex(
            model_name='planchange',
            index=models.Index(condition=models.Q(('status', 'scheduled')), fields=['effective_date'], name='planchange_due_idx'),
        ),
        migrations.AddConstraint(
            model_name='planchange',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'scheduled')), fields=('service',), name='planchange_one_scheduled_per_service'),
        ),
        migrations.AddConstraint(
            model_name='planchange',
            constraint=models.CheckConstraint(condition=models.Q(('old_tariff', models.F('new_tariff')), _negated=True), name='planchange_new_tariff'),
        ),
        migrations.AddConstraint(
            model_name='planchange',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['scheduled', 'applied', 'cancelled'])), name='planchange_status_valid'),
        ),
        delete_refused(
            "invoicing_creditnote", "a credit note is an issued document", vendors=BOTH
        ),
        delete_refused_while_referenced(
            "billing_charge", [("billing_charge", "credit_of_id")], vendors=BOTH
        ),
        delete_refused_while_referenced(
            "billing_planchange", [("billing_charge", "plan_change_id")], vendors=BOTH
        ),
    ]
