"""Commission of a percentage partner, worked by hand (docs/domain.md, "Percentage").

Every test bills a customer of a percentage partner through the home partner (prepaid,
billing day 1, VAT 19 %), so each invoice is: net = the tariff price, tax = round(net x 19 %),
total = net + tax."""

from __future__ import annotations

from datetime import date

import pytest

from ispbill.billing.run import billing_run_start
from ispbill.commission.statements import (
    StatementError,
    commission_statement_approve,
    commission_statement_build,
    commission_statement_csv,
    commission_statement_pay,
)
from ispbill.core.invariants import invariants_check
from ispbill.core.models import AuditEvent
from ispbill.core.money import Money
from ispbill.invoicing.models import Invoice
from ispbill.ledger.models import AccountCode, Posting
from ispbill.partners.models import (
    CommissionAccrual,
    CommissionBase,
    CommissionStatement,
    PartnerMode,
    StatementStatus,
)
from ispbill.payments.credit_notes import credit_note_issue
from ispbill.payments.services import payment_record
from tests.factories import (
    CommissionOverrideFactory,
    CustomerFactory,
    PartnerFactory,
    ServiceFactory,
    TariffFactory,
)

pytestmark = pytest.mark.django_db
MARCH = date(2026, 3, 1)


def eur(minor: int) -> Money:
    return Money.from_minor(minor, "EUR")


def _partner(rate_bp: int = 1250, base: str = CommissionBase.PAID):
    return PartnerFactory(mode=PartnerMode.PERCENTAGE, commission_bp=rate_bp, commission_base=base)


def _billed_customer(partner, price: int = 2990) -> tuple[object, Invoice]:
    customer = CustomerFactory(partner=partner)
    ServiceFactory(customer=customer, tariff=TariffFactory(price_minor=price), start_date=MARCH)
    billing_run_start(run_date=MARCH)
    return customer, Invoice.objects.get(customer=customer)


def _internet_and_static_ip(partner):  # type: ignore[no-untyped-def]
    """A customer with internet (29.90) and a static IP (5.00, 20 % commission override),
    billed on 1 March."""
    customer = CustomerFactory(partner=partner)
    internet = TariffFactory(price_minor=2990)
    static_ip = TariffFactory(price_minor=500)
    CommissionOverrideFactory(partner=partner, tariff=static_ip, rate_bp=2000)
    ServiceFactory(customer=customer, tariff=internet, start_date=MARCH)
    ServiceFactory(customer=customer, tariff=static_ip, start_date=MARCH)
    billing_run_start(run_date=MARCH)
    return customer, Invoice.objects.get(customer=customer), static_ip


def _accruals(partner) -> list[tuple[str, int, int, int]]:
    return list(
        CommissionAccrual.objects.filter(partner=partner)
        .order_by("pk")
        .values_list("source_type", "rate_bp", "base_minor", "amount_minor")
    )


def _balance(account: str) -> int:
    return sum(Posting.objects.filter(account=account).values_list("amount_minor", flat=True))


def test_paid_base_half_then_rest_then_partial_credit_note(home):
    partner = _partner()
    customer, inv = _billed_customer(partner)
    # Invoice: net 29.90, tax round(2990 x 0.19 = 568.1) = 5.68, total 35.58.
    assert (inv.net_minor, inv.tax_minor, inv.total_minor) == (2990, 568, 3558)
    assert _accruals(partner) == []  # paid base: nothing accrues at issue

    # Half: 17.79 allocated. Base = 1779 x 2990 / 3558 = 1495 exactly;
    # commission = 1495 x 12.5 % = 186.875 -> 1.87.
    payment_record(customer=customer, amount=eur(1779), on=date(2026, 3, 5), reference="T1")
    # The rest: 17.79 again -> the same line: base 14.95, commission 1.87.
    payment_record(customer=customer, amount=eur(1779), on=date(2026, 3, 10), reference="T2")
    inv.refresh_from_db()
    assert inv.status == "paid"

    # Partial credit note of 10.00 net: tax 1.90, total 11.90. The invoice is paid, so 11.90
    # of the latest payment is taken back as credit: allocation -11.90.
    # Base = -1190 x 2990 / 3558 = -1000.028... -> -10.00;
    # commission = -1000.028... x 12.5 % = -125.0035 -> -1.25.
    line = inv.lines.get()
    credit_note_issue(invoice=inv, on=date(2026, 3, 20), reason="Outage", lines={line.pk: 1000})

    assert _accruals(partner) == [
        ("allocation", 1250, 1495, 187),
        ("allocation", 1250, 1495, 187),
        ("allocation", 1250, -1000, -125),
    ]
    st = commission_statement_build(partner=partner, month=date(2026, 3, 17))
    # 1.87 + 1.87 - 1.25 = 2.49 (12.5 % of the 19.90 kept would be 2.4875: each line rounds).
    assert (st.period_start, st.period_end) == (date(2026, 3, 1), date(2026, 3, 31))
    assert st.total_minor == 249
    assert st.lines.count() == 3
    assert st.status == StatementStatus.DRAFT


def test_invoiced_base_accrues_at_issue_and_reverses_on_credit_note(home):
    partner = _partner(rate_bp=1000, base=CommissionBase.INVOICED)
    customer, inv = _billed_customer(partner)
    # At issue: net 29.90 x 10 % = 2.99.
    assert _accruals(partner) == [("invoice", 1000, 2990, 299)]
    # A payment accrues nothing on the invoiced base.
    payment_record(customer=customer, amount=eur(3558), on=date(2026, 3, 5), reference="T1")
    # Credit 10.00 net: -10.00 x 10 % = -1.00.
    line = inv.lines.get()
    credit_note_issue(invoice=inv, on=date(2026, 3, 20), reason="Outage", lines={line.pk: 1000})
    assert _accruals(partner) == [("invoice", 1000, 2990, 299), ("credit_note", 1000, -1000, -100)]
    st = commission_statement_build(partner=partner, month=MARCH)
    assert st.total_minor == 199  # 2.99 - 1.00


def test_per_tariff_override(home):
    partner = _partner()
    customer, inv, _static_ip = _internet_and_static_ip(partner)
    # Net 29.90 + 5.00 = 34.90; tax round(3490 x 0.19 = 663.1) = 6.63; total 41.53.
    assert (inv.net_minor, inv.tax_minor, inv.total_minor) == (3490, 663, 4153)
    payment_record(customer=customer, amount=eur(4153), on=date(2026, 3, 5), reference="T1")
    # Paid in full: one line per rate. 12.5 % of 29.90 = 3.7375 -> 3.74; 20 % of 5.00 = 1.00.
    assert _accruals(partner) == [
        ("allocation", 1250, 2990, 374),
        ("allocation", 2000, 500, 100),
    ]
    assert commission_statement_build(partner=partner, month=MARCH).total_minor == 474


def test_a_credited_line_reverses_its_own_rate_only(home):
    """Invoiced base with a 20 % override on the static IP: the invoice accrues 12.5 % of
    29.90 = 3.74 and 20 % of 5.00 = 1.00. Crediting the static IP line in full reverses its
    1.00 at 20 %, leaving the internet line's 3.74 (spread pro rata over both rates it left
    4.06: -0.54 at 12.5 % and -0.14 at 20 %)."""
    partner = _partner(base=CommissionBase.INVOICED)
    _customer, inv, static_ip = _internet_and_static_ip(partner)
    assert _accruals(partner) == [("invoice", 1250, 2990, 374), ("invoice", 2000, 500, 100)]
    static_line = inv.lines.get(tariff=static_ip)
    credit_note_issue(
        invoice=inv, on=date(2026, 3, 20), reason="No static IP", lines={static_line.pk: 500}
    )
    assert _accruals(partner)[2:] == [("credit_note", 2000, -500, -100)]
    assert commission_statement_build(partner=partner, month=MARCH).total_minor == 374
    # Then the rest: the internet line's 3.74 goes too, nothing is left.
    credit_note_issue(invoice=inv, on=date(2026, 3, 21), reason="Cancelled")
    assert _accruals(partner)[3:] == [("credit_note", 1250, -2990, -374)]


def test_approve_and_pay_post_to_the_home_ledger_once(home):
    partner = _partner()
    customer, _inv = _billed_customer(partner)
    payment_record(customer=customer, amount=eur(3558), on=date(2026, 3, 5), reference="T1")
    # 29.90 x 12.5 % = 3.7375 -> 3.74.
    st = commission_statement_build(partner=partner, month=MARCH)
    assert st.total_minor == 374

    with pytest.raises(StatementError, match="approve it first"):
        commission_statement_pay(statement=st, on=date(2026, 4, 10), reference="P-1")
    st = commission_statement_approve(statement=st, actor="tester", on=date(2026, 4, 2))
    assert st.status == StatementStatus.APPROVED and st.approved_at is not None
    with pytest.raises(StatementError, match="only a draft can be approved"):
        commission_statement_approve(statement=st, actor="tester")
    assert _balance(AccountCode.COMMISSION_EXPENSE) == 374
    assert _balance(AccountCode.COMMISSION_PAYABLE) == -374
    postings = Posting.objects.filter(account=AccountCode.COMMISSION_PAYABLE)
    assert {(p.partner_id, p.counterparty_id) for p in postings} == {(home.pk, partner.pk)}

    with pytest.raises(StatementError, match="bank reference"):
        commission_statement_pay(statement=st, on=date(2026, 4, 10), reference="  ")
    st = commission_statement_pay(statement=st, on=date(2026, 4, 10), reference="P-1")
    assert st.status == StatementStatus.PAID and st.payout_reference == "P-1"
    with pytest.raises(StatementError, match="already paid"):
        commission_statement_pay(statement=st, on=date(2026, 4, 11), reference="P-2")
    # Payable cleared; bank: +35.58 received from the customer, -3.74 paid to the partner.
    assert _balance(AccountCode.COMMISSION_PAYABLE) == 0
    assert _balance(AccountCode.BANK) == 3558 - 374
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"commission_statement.approved", "commission_statement.paid"} <= actions
    assert invariants_check()[1] == []


def test_build_is_idempotent_and_late_lines_go_to_the_next_statement(home):
    partner = _partner()
    customer, _inv = _billed_customer(partner)
    payment_record(customer=customer, amount=eur(1779), on=date(2026, 3, 5), reference="T1")
    first = commission_statement_build(partner=partner, month=MARCH)
    again = commission_statement_build(partner=partner, month=MARCH)
    assert again.pk == first.pk and again.total_minor == first.total_minor == 187
    assert CommissionStatement.objects.count() == 1
    # A payment later in March joins the draft when it is built again.
    payment_record(customer=customer, amount=eur(1000), on=date(2026, 3, 25), reference="T2")
    # 1000 x 2990 / 3558 = 840.36... -> base 8.40; x 12.5 % = 105.04... -> 1.05.
    assert commission_statement_build(partner=partner, month=MARCH).total_minor == 187 + 105
    commission_statement_approve(statement=first, on=date(2026, 4, 1))
    # A payment back-dated into March after approval: the March statement stays as approved;
    # the line goes on April's statement.
    payment_record(customer=customer, amount=eur(779), on=date(2026, 3, 30), reference="T3")
    # 779 x 2990 / 3558 = 654.64... -> 6.55; x 12.5 % = 81.83... -> 0.82.
    march = commission_statement_build(partner=partner, month=MARCH)
    assert march.total_minor == 292 and march.status == StatementStatus.APPROVED
    april = commission_statement_build(partner=partner, month=date(2026, 4, 1))
    assert april.total_minor == 82
    assert CommissionAccrual.objects.filter(statement__isnull=True).count() == 0
    assert invariants_check()[1] == []


def test_csv_has_decimal_strings(home):
    partner = _partner()
    customer, inv = _billed_customer(partner)
    payment_record(customer=customer, amount=eur(1779), on=date(2026, 3, 5), reference="T1")
    st = commission_statement_build(partner=partner, month=MARCH)
    alloc_id = CommissionAccrual.objects.get().source_id
    assert commission_statement_csv(st) == (
        '"date","source","source_id","invoice","rate_percent","base","commission","currency",'
        '"customer"\n'
        f'"2026-03-05","allocation",{alloc_id},"{inv.number}",12.50,14.95,1.87,"EUR",'
        f'"{customer.name} ({customer.reference})"\n'
        '"2026-03-31","total","","","","",1.87,"EUR",""\n'
    )


def test_home_partner_and_other_modes_have_no_statement(home):
    with pytest.raises(StatementError, match="home partner"):
        commission_statement_build(partner=home, month=MARCH)
    agg = PartnerFactory(mode=PartnerMode.OWN_INVOICING)
    with pytest.raises(StatementError, match="not a percentage partner"):
        commission_statement_build(partner=agg, month=MARCH)


def test_statements_check_finds_a_tampered_total(home):
    partner = _partner()
    customer, _ = _billed_customer(partner)
    payment_record(customer=customer, amount=eur(3558), on=date(2026, 3, 5), reference="T1")
    st = commission_statement_build(partner=partner, month=MARCH)
    CommissionStatement.objects.filter(pk=st.pk).update(total_minor=1)
    breaches = [b for b in invariants_check()[1] if b.check == "partners.statements"]
    assert breaches and f"statement:{st.pk}" in breaches[0].ids
