"""A month of SEPA direct debit, end to end: invoices issued with their pre-notification, a
batch exported (pain.008 valid against the official XSD), its collection booked, one debit
returned by a camt.054 file (invoice open again, return fee, mandate ended, dunning), and
`ispbill check` clean after every step. Figures worked by hand in the comments."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, transaction

from ispbill.billing.run import billing_run_start
from ispbill.core.invariants import invariants_check
from ispbill.customers.models import Customer, Reminder
from ispbill.dunning.services import dunning_run
from ispbill.invoicing.documents import invoice_document_data
from ispbill.invoicing.models import Invoice, InvoiceLine
from ispbill.ledger.models import AccountCode, Posting
from ispbill.partners.models import Partner, PartnerMode
from ispbill.payments.models import Payment, Refund
from ispbill.payments.selectors import customer_balance
from ispbill.sepa.collection import collection_collect, collection_run, collection_submit
from ispbill.sepa.models import Debit, DebitInvoice, DebitNotice, Mandate
from ispbill.sepa.returns import returns_file_import
from ispbill.subscriptions.models import OneTimeCharge
from tests.billing.builders import customer, service, tariff, tax
from tests.sepa.helpers import camt054_return, creditor, mandate, pain008_valid

pytestmark = pytest.mark.django_db

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.008.001.08"}


def clean() -> None:
    assert invariants_check()[1] == []


def test_a_month_of_direct_debit(home):
    fee_rate = tax(home, 1900)
    # Return fee 3.00 net + 19 % = 3.57 on the next invoice.
    creditor(home, fee_minor=300, fee_rate=fee_rate)
    citynet = Partner.objects.create(name="CityNet", mode=PartnerMode.PERCENTAGE)
    fiber = tariff(price=3000)
    anna = customer()
    bert = customer()
    carl = customer(citynet)  # a percentage customer: home collects
    dora = customer()  # no mandate
    for c in (anna, bert, carl, dora):
        service(c, fiber, date(2026, 3, 1))
    m_anna = mandate(anna, 0)
    m_bert = mandate(bert, 1)
    m_carl = mandate(carl, 2)
    assert (m_anna.reference, m_anna.sequence, m_carl.creditor_id) == (
        f"{anna.reference}-1",
        "FRST",
        home.pk,
    )

    # 1 March: invoices of 30.00 + 5.70 VAT = 35.70, due 15 March (a Sunday). The collection
    # date is the due date (14 days of notice have passed), moved to the next TARGET2 day:
    # Monday 16 March.
    billing_run_start(run_date=date(2026, 3, 1))
    clean()
    march = {c.pk: Invoice.objects.get(customer=c) for c in (anna, bert, carl, dora)}
    assert {i.total_minor for i in march.values()} == {3570}
    notices = {n.customer_id: n for n in DebitNotice.objects.all()}
    assert set(notices) == {anna.pk, bert.pk, carl.pk}  # Dora has no mandate
    assert notices[anna.pk].collection_date == date(2026, 3, 16)
    assert notices[anna.pk].creditor_id == "DE98ZZZ09999999999"
    # The invoice is the pre-notification: amount, date, mandate reference, creditor id.
    data = invoice_document_data(march[anna.pk])
    assert data["document"]["direct_debit"] == {
        "collection_date": "2026-03-16",
        "mandate_reference": m_anna.reference,
        "creditor_id": "DE98ZZZ09999999999",
        "debtor_iban": "DE02 **** **** **** **20 51",
    }
    from ispbill.documents.render import document_template_input

    text = document_template_input(data)["payment_text"]
    assert "35.70" in text and "16" in text and m_anna.reference in text
    assert "DE98ZZZ09999999999" in text

    # 12 March: the run collects what is notified up to 17 March: one batch of the home
    # partner for 16 March, three first debits of 35.70 = 107.10.
    assert collection_run(on=date(2026, 3, 10)) == []  # 16 March is after 10 + 5 days
    [batch] = collection_run(on=date(2026, 3, 12))
    clean()
    assert (batch.partner_id, batch.collection_date, batch.count, batch.total_minor) == (
        home.pk,
        date(2026, 3, 16),
        3,
        10710,
    )
    doc = pain008_valid(batch.xml)
    assert doc.findtext("p:CstmrDrctDbtInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "3"
    assert doc.findtext("p:CstmrDrctDbtInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == "107.10"
    [block] = doc.findall("p:CstmrDrctDbtInitn/p:PmtInf", NS)
    assert block.findtext("p:PmtTpInf/p:SeqTp", namespaces=NS) == "FRST"
    assert block.findtext("p:ReqdColltnDt", namespaces=NS) == "2026-03-16"
    assert (
        block.findtext("p:CdtrSchmeId/p:Id/p:PrvtId/p:Othr/p:Id", namespaces=NS)
        == "DE98ZZZ09999999999"
    )
    mandates_in_file = [
        tx.findtext("p:DrctDbtTx/p:MndtRltdInf/p:MndtId", namespaces=NS)
        for tx in block.findall("p:DrctDbtTxInf", NS)
    ]
    assert sorted(mandates_in_file) == sorted(
        [m_anna.reference, m_bert.reference, m_carl.reference]
    )
    assert Mandate.objects.get(pk=m_anna.pk).sequence == "RCUR"
    # Idempotent: nothing is collected twice, by a run or by hand.
    assert collection_run(on=date(2026, 3, 12)) == []
    with pytest.raises(IntegrityError), transaction.atomic():
        DebitInvoice.objects.create(
            partner_id=anna.partner_id,
            debit=Debit.objects.get(customer=anna),
            invoice=march[anna.pk],
            amount_minor=3570,
        )

    # Submitted; on 16 March the bank credits 107.10: three payments dated 16 March.
    collection_submit(batch=batch)
    dunning_run(today=date(2026, 3, 16))
    clean()
    collection_collect(batch=batch)
    clean()
    for c in (anna, bert, carl):
        inv = Invoice.objects.get(pk=march[c.pk].pk)
        assert (inv.status, inv.paid_at) == ("paid", date(2026, 3, 16))
        p = Payment.objects.get(customer=c)
        assert (p.method, p.amount_minor, p.date) == ("direct_debit", 3570, date(2026, 3, 16))
    assert Invoice.objects.get(pk=march[dora.pk].pk).status == "unpaid"
    bank = Posting.objects.filter(account=AccountCode.BANK, entry__kind="payment")
    assert sum(p.amount_minor for p in bank) == 10710

    # 19 March: Bert's bank returns his debit, account closed (AC04).
    bert_debit = Debit.objects.get(customer=bert)
    result = returns_file_import(
        data=camt054_return(
            end_to_end_id=bert_debit.end_to_end_id,
            amount="35.70",
            reason="AC04",
            booked=date(2026, 3, 19),
        )
    )
    clean()
    assert [r.reason_code for r in result.booked] == ["AC04"]
    inv = Invoice.objects.get(pk=march[bert.pk].pk)
    assert (inv.status, inv.open_minor, inv.paid_at) == ("unpaid", 3570, None)
    assert customer_balance(bert) == -3570
    refund = Refund.objects.get(payment__customer=bert)
    assert (refund.amount_minor, refund.date) == (3570, date(2026, 3, 19))
    assert Mandate.objects.get(pk=m_bert.pk).status == "revoked"
    fee = OneTimeCharge.objects.get(customer=bert)
    assert (fee.unit_price_minor, fee.charge_date) == (300, date(2026, 3, 19))
    # The same file again adds nothing.
    again = returns_file_import(
        data=camt054_return(
            end_to_end_id=bert_debit.end_to_end_id,
            amount="35.70",
            reason="AC04",
            booked=date(2026, 3, 19),
        )
    )
    assert (again.booked, again.duplicates) == ([], [bert_debit.end_to_end_id])
    clean()

    # Dunning: the invoice was due 15 March. On 20 March (5 days late) Bert is reminded; past
    # the 10 blocking days, on 26 March, he is blocked. Anna and Carl paid: left alone.
    dunning_run(today=date(2026, 3, 20))
    assert Reminder.objects.filter(invoice=inv, days_after_due=5).exists()
    dunning_run(today=date(2026, 3, 26))
    clean()
    status = dict(Customer.objects.values_list("pk", "status"))
    assert (status[bert.pk], status[anna.pk], status[carl.pk]) == ("blocked", "active", "active")

    # 1 April: Bert's invoice carries the return fee (35.70 + 3.57 = 39.27) and no
    # pre-notification (his mandate ended); Anna's next debit is recurring.
    billing_run_start(run_date=date(2026, 4, 1))
    clean()
    april_bert = Invoice.objects.get(customer=bert, billing_date=date(2026, 4, 1))
    assert april_bert.total_minor == 3927
    assert InvoiceLine.objects.filter(invoice=april_bert, amount_minor=300).exists()
    assert not DebitNotice.objects.filter(invoice=april_bert).exists()
    [april] = collection_run(on=date(2026, 4, 12))
    assert {d.customer_id: d.sequence for d in Debit.objects.filter(collection=april)} == {
        anna.pk: "RCUR",
        carl.pk: "RCUR",
    }
    pain008_valid(april.xml)
    clean()
