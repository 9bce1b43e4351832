"""Three months of an operator with direct customers and one partner in each mode, with
payments, a credit note, commission statements and a mode change. Every figure is worked
out by hand below; at the end the invariants hold.

Set-up (all prices net, VAT 19 %, prepaid, billing and aggregation day 1, monthly):

- Home partner "Main": direct customer D, Fiber 29.90 from 1 January.
- "Pct" (percentage, 12.5 % on payments): customer PC, Fiber from 1 January.
- "Own" (own invoicing, pattern O-{next|4}, wholesale charges at a partner price of 20.00):
  customer OC, Fiber from 1 January.
- "Agg" (aggregated, 25 % discount: 29.90 x 75 % = 22.425 -> 22.43): A1 Fiber from 1 January,
  A2 Fiber from 16 January. On 15 February Agg switches to percentage (10 % on payments):
  from March its customers are invoiced by the operator at retail.

A retail Fiber invoice: net 29.90, tax round(2990 x 0.19 = 568.1) = 5.68, total 35.58.
A wholesale invoice: net 20.00, tax 3.80, total 23.80."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest

from ispbill.billing.changes import partner_mode_change
from ispbill.billing.run import billing_run_start
from ispbill.commission.statements import (
    commission_statement_approve,
    commission_statement_build,
    commission_statement_pay,
)
from ispbill.core.invariants import invariants_check
from ispbill.core.money import Money
from ispbill.invoicing.models import Invoice, InvoiceKind, NumberSequence
from ispbill.ledger.models import AccountCode, Posting
from ispbill.partners.models import CommissionBase, PartnerMode, StatementStatus
from ispbill.payments.credit_notes import credit_note_issue
from ispbill.payments.selectors import customer_balance_minor
from ispbill.payments.services import payment_record
from tests.factories import (
    CustomerFactory,
    PartnerFactory,
    PartnerPriceFactory,
    ServiceFactory,
    TariffFactory,
    partner_with_account,
)

pytestmark = pytest.mark.django_db
JAN, FEB, MAR = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)


def pay(customer, minor: int, on: date, ref: str) -> None:
    payment_record(customer=customer, amount=Money.from_minor(minor, "EUR"), on=on, reference=ref)


def totals(customer) -> list[int]:
    return list(
        Invoice.objects.filter(customer=customer)
        .order_by("billing_date")
        .values_list("total_minor", flat=True)
    )


def ledger(partner) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for account, amount in Posting.objects.filter(partner=partner).values_list(
        "account", "amount_minor"
    ):
        out[account] += amount
    return dict(out)


def test_three_months_with_every_mode(home):
    fiber = TariffFactory(name="Fiber", price_minor=2990)
    pct = PartnerFactory(name="Pct", mode=PartnerMode.PERCENTAGE, commission_bp=1250)
    own = partner_with_account(
        name="Own",
        mode=PartnerMode.OWN_INVOICING,
        invoice_number_pattern="O-{next|4}",
        wholesale_charges=True,
    )
    agg = partner_with_account(
        name="Agg",
        mode=PartnerMode.AGGREGATED,
        discount_bp=2500,
        commission_bp=1000,
        commission_base=CommissionBase.PAID,
    )
    PartnerPriceFactory(partner=own, tariff=fiber, price_minor=2000)
    d = CustomerFactory(partner=home, reference="D")
    pc = CustomerFactory(partner=pct, reference="PC")
    oc = CustomerFactory(partner=own, reference="OC")
    a1 = CustomerFactory(partner=agg, reference="A1")
    a2 = CustomerFactory(partner=agg, reference="A2")
    for c in (d, pc, oc, a1):
        ServiceFactory(customer=c, tariff=fiber, start_date=JAN)
    ServiceFactory(customer=a2, tariff=fiber, start_date=date(2026, 1, 16))

    # -- January ---------------------------------------------------------------------------
    billing_run_start(run_date=JAN)
    # Agg's account: A1 22.43 net; tax round(426.17) = 4.26; total 26.69.
    # Own's account (wholesale): 20.00 + 3.80 = 23.80.
    pay(d, 3558, date(2026, 1, 5), "D-1")
    pay(pc, 3558, date(2026, 1, 10), "PC-1")  # commission: 2990 x 12.5 % = 373.75 -> 3.74
    pay(oc, 3558, date(2026, 1, 15), "OC-1")
    pay(agg.account, 2669, date(2026, 1, 20), "AGG-1")
    pay(own.account, 2380, date(2026, 1, 25), "OWN-1")
    # Credit note of 10.00 net (11.90 with VAT) on PC's paid January invoice: 11.90 of the
    # payment becomes credit again, allocation -11.90: base -1190 x 2990 / 3558
    # = -1000.03 -> -10.00, commission -125.0035 -> -1.25.
    pc_jan = Invoice.objects.get(customer=pc)
    credit_note_issue(
        invoice=pc_jan, on=date(2026, 1, 20), reason="Outage", lines={pc_jan.lines.get().pk: 1000}
    )

    # -- February ----------------------------------------------------------------------------
    billing_run_start(run_date=FEB)
    # PC's 11.90 credit pays part of its February invoice on 1 February: +10.00 base, +1.25.
    # Agg's account: A1 February 22.43; A2 16-31 January 2243 x 16 / 31 = 1157.68 -> 11.58;
    # A2 February 22.43. Net 56.44; tax round(1072.36) = 10.72; total 67.16.
    jan_st = commission_statement_build(partner=pct, month=JAN)
    assert jan_st.total_minor == 374 - 125  # 2.49
    commission_statement_approve(statement=jan_st, on=date(2026, 2, 2))
    commission_statement_pay(statement=jan_st, on=date(2026, 2, 5), reference="PO-1")
    pay(d, 3558, date(2026, 2, 5), "D-2")
    # PC pays 17.79 of the 23.68 still open: base 1779 x 2990 / 3558 = 1495, commission
    # 186.875 -> 1.87.
    pay(pc, 1779, date(2026, 2, 20), "PC-2")
    pay(agg.account, 6716, date(2026, 2, 20), "AGG-2")
    partner_mode_change(partner=agg, mode=PartnerMode.PERCENTAGE, actor="test")

    # -- March -------------------------------------------------------------------------------
    billing_run_start(run_date=MAR)
    # Agg is a percentage partner now: A1 and A2 get the operator's retail invoices (35.58);
    # Agg's account gets nothing more.
    pay(d, 3558, date(2026, 3, 5), "D-3")
    pay(a1, 3558, date(2026, 3, 10), "A1-1")  # Agg's commission: 2990 x 10 % = 2.99
    feb_st = commission_statement_build(partner=pct, month=FEB)
    assert feb_st.total_minor == 125 + 187  # 3.12
    commission_statement_approve(statement=feb_st, on=date(2026, 3, 2))
    mar_pct = commission_statement_build(partner=pct, month=MAR)
    mar_agg = commission_statement_build(partner=agg, month=MAR)
    assert (mar_pct.total_minor, mar_agg.total_minor) == (0, 299)

    # -- Invoices ----------------------------------------------------------------------------
    assert totals(d) == [3558, 3558, 3558]
    assert totals(pc) == [3558, 3558, 3558]
    assert totals(oc) == [3558, 3558, 3558]
    assert totals(agg.account) == [2669, 6716]
    assert totals(own.account) == [2380, 2380, 2380]
    assert totals(a1) == [3558] and totals(a2) == [3558]
    assert set(Invoice.objects.filter(customer=agg.account).values_list("kind", flat=True)) == {
        InvoiceKind.AGGREGATED
    }
    assert list(
        Invoice.objects.filter(issuer=own).order_by("number").values_list("number", flat=True)
    ) == ["O-0001", "O-0002", "O-0003"]
    seqs = {
        (issuer, doc): n
        for issuer, doc, n in NumberSequence.objects.values_list(
            "issuer_id", "doc_type", "next_value"
        )
    }
    # Operator: D x3, PC x3, Agg x2, wholesale x3, A1, A2 = 13 invoices; one credit note.
    # Receipts: 9 payments to the operator (D x3, PC x2, AGG x2, OWN-1, A1-1), OC-1 to OwnNet.
    assert seqs == {
        (home.pk, "invoice"): 14,
        (home.pk, "credit_note"): 2,
        (home.pk, "receipt"): 10,
        # Two approved commission statements: the self-billing credit notes GS…1, GS…2.
        (home.pk, "self_billing"): 3,
        (own.pk, "invoice"): 4,
        (own.pk, "receipt"): 2,
    }

    # -- Statements --------------------------------------------------------------------------
    jan_st.refresh_from_db()
    feb_st.refresh_from_db()
    assert (jan_st.status, feb_st.status) == (StatementStatus.PAID, StatementStatus.APPROVED)
    assert [st.status for st in (mar_pct, mar_agg)] == [StatementStatus.DRAFT] * 2

    # -- Balances (payments + credit notes - invoices) ---------------------------------------
    balances = customer_balance_minor(
        [d.pk, pc.pk, oc.pk, a1.pk, a2.pk, agg.account_id, own.account_id]
    )
    assert balances == {
        d.pk: 0,
        pc.pk: 5337 + 1190 - 10674,  # -41.47: 5.89 left on February, 35.58 on March
        oc.pk: 3558 - 10674,  # -71.16
        a1.pk: 0,
        a2.pk: -3558,
        agg.account_id: 0,
        own.account_id: 2380 - 7140,  # -47.60
    }

    # -- Ledger --------------------------------------------------------------------------------
    # Operator's invoices: net 3 x 2990 (D) + 3 x 2990 (PC) + 2243 + 5644 (Agg) + 3 x 2000
    # (wholesale) + 2 x 2990 (A1, A2 in March) = 37807; tax 3 x 568 + 3 x 568 + 426 + 1072
    # + 3 x 380 + 2 x 568 = 7182; totals 44989. Credit note 1000 + 190.
    # Received: D 3 x 3558, PC 3558 + 1779, Agg 2669 + 6716, Own 2380, A1 3558 = 31334;
    # commission paid out 249. Commission approved 249 + 312 = 561, paid 249.
    assert ledger(home) == {
        AccountCode.RECEIVABLE: 44989 - 1190 - 31334,
        AccountCode.REVENUE: -(37807 - 1000),
        AccountCode.VAT_PAYABLE: -(7182 - 190),
        AccountCode.BANK: 31334 - 249,
        AccountCode.COMMISSION_EXPENSE: 561,
        AccountCode.COMMISSION_PAYABLE: -561 + 249,
    }
    # Own's books: three invoices of 35.58, one payment.
    assert ledger(own) == {
        AccountCode.RECEIVABLE: 3 * 3558 - 3558,
        AccountCode.REVENUE: -3 * 2990,
        AccountCode.VAT_PAYABLE: -3 * 568,
        AccountCode.BANK: 3558,
    }
    names, breaches = invariants_check()
    assert "partners.statements" in names
    assert breaches == []
