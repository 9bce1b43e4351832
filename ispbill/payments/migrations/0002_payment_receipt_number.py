# Receipts are numbered in the issuer's receipt series (docs/documents.md, "Receipts"):
# a new column, and the payments recorded before it numbered in the order they were
# received (date, then id) per issuer, advancing each issuer's receipt counter.

from django.db import migrations, models


def number_existing_receipts(apps, schema_editor):
    from ispbill.core.numbering import PatternError, render_number, sequence_period_key

    Payment = apps.get_model("payments", "Payment")
    Partner = apps.get_model("partners", "Partner")
    NumberSequence = apps.get_model("invoicing", "NumberSequence")
    issuers = {p.pk: p for p in Partner.objects.all()}
    counters = {}
    changed = []
    for payment in Payment.objects.filter(receipt_number="").order_by("issuer_id", "date", "id"):
        pattern = issuers[payment.issuer_id].receipt_number_pattern
        try:
            key = sequence_period_key(pattern, payment.date)
        except PatternError:
            continue  # a pattern stored before patterns were checked: left unnumbered
        counter = (payment.issuer_id, key)
        if counter not in counters:
            seq = NumberSequence.objects.filter(
                issuer_id=payment.issuer_id, doc_type="receipt", period_key=key
            ).first()
            counters[counter] = seq.next_value if seq is not None else 1
        payment.receipt_number = render_number(
            pattern,
            issue_date=payment.date,
            partner_id=payment.issuer_id,
            customer_id=payment.customer_id,
            next_value=counters[counter],
        )
        counters[counter] += 1
        changed.append(payment)
    Payment.objects.bulk_update(changed, ["receipt_number"], batch_size=1000)
    for (issuer_id, key), next_value in counters.items():
        NumberSequence.objects.update_or_create(
            issuer_id=issuer_id,
            doc_type="receipt",
            period_key=key,
            defaults={"next_value": next_value},
        )


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0005_customer_fillfactor"),
        ("invoicing", "0010_document_pdf_error"),
        ("partners", "0006_document_refs_unconstrained"),
        ("payments", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="receipt_number",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.RunPython(number_existing_receipts, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("receipt_number", ""), _negated=True),
                fields=("issuer", "receipt_number"),
                name="payment_receipt_number_unique",
            ),
        ),
    ]
