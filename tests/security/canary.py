"""The demo installation plus one canary partner in every mode, for the crawl-based leak test.

Every text of the canaries (partner, account, customer names, references, e-mail addresses,
descriptions, payment references, number patterns, users, tokens) carries ``CANARY``, a
string found nowhere else, and their money amounts are unusual figures (7,777.31 ...). The
needles of the leak test are that string and every amount the canaries' invoices, payments,
credit notes and commission came to, as the pages and the API print them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.test.utils import override_settings
from django.utils import timezone

from ispbill.accounts.models import Role, User
from ispbill.catalog.models import Tariff, TaxRate
from ispbill.customers.models import Customer
from ispbill.demo import demo_load
from ispbill.invoicing.models import CreditNote, Invoice
from ispbill.partners.models import (
    AggregationCycle,
    CommissionAccrual,
    CommissionBase,
    CommissionOverride,
    CommissionStatement,
    Partner,
    PartnerMode,
)
from ispbill.payments.models import Payment
from ispbill.radius.models import UsageDay
from ispbill.subscriptions.models import OneTimeCharge, Service

CANARY = "zq7x3"  # lower case: the needle is searched case-insensitively
CANARY_DOMAIN = "canary-zq7x3.example"
# Net of each canary customer's one-time charge, minor units: figures no demo row comes to.
CANARY_CHARGES = {
    PartnerMode.PERCENTAGE: 777731,
    PartnerMode.OWN_INVOICING: 666643,
    PartnerMode.AGGREGATED: 555529,
}
RUN_DATE = date(2026, 5, 1)


@dataclass
class CanaryWorld:
    canaries: dict[str, Partner]  # mode -> canary partner
    viewers: dict[str, User]  # every user that must not see a canary, by a label
    amounts: set[int] = field(default_factory=set)  # minor units of the canaries' figures
    operator: User | None = None

    def needles(self) -> list[str]:
        """What the leak test looks for (lower case): the string and each amount as shown
        on pages ("7,777.31"), in CSV, JSON and XLSX ("7777.31") and in chart data
        ("777731")."""
        found = {CANARY, CANARY_DOMAIN}
        for minor in self.amounts:
            major, cents = divmod(abs(minor), 100)
            found |= {f"{major:,}.{cents:02d}", f"{major}.{cents:02d}", str(abs(minor))}
        return sorted(found)


def _user(username: str, role: str, partner: Partner | None, customer: Customer | None) -> User:
    return User.objects.create(
        username=username,
        role=role,
        partner=partner,
        customer=customer,
        password=make_password(None),
        email=f"{username}@viewers.example",
    )


def _canary_partner(mode: str, home: Partner, tariff: Tariff) -> tuple[Partner, TaxRate]:
    tag = f"{CANARY.upper()} {mode}"
    kw: dict[str, object] = {}
    if mode == PartnerMode.PERCENTAGE:
        kw = {"commission_bp": 5000, "commission_base": CommissionBase.INVOICED}
    elif mode == PartnerMode.OWN_INVOICING:
        kw = {
            "invoice_number_pattern": f"{CANARY.upper()}-{{year}}-{{next|4}}",
            "credit_note_number_pattern": f"{CANARY.upper()}-CN-{{year}}-{{next|3}}",
            "receipt_number_pattern": f"{CANARY.upper()}-RC-{{year}}-{{next|3}}",
            "billing_day": 1,
        }
    else:
        kw = {
            "discount_bp": 1111,
            "aggregation_day": 1,
            "aggregation_cycle": AggregationCycle.MONTHLY,
        }
    partner = Partner.objects.create(
        name=f"{tag} Partner",
        legal_name=f"{tag} Legal GmbH",
        mode=mode,
        street=f"{CANARY.upper()} Street 1",
        city=f"{CANARY.upper()}ville",
        email=f"office-{mode}@{CANARY_DOMAIN}",
        vat_id=f"DE{CANARY.upper()}{len(mode)}",
        **kw,
    )
    if mode == PartnerMode.AGGREGATED:
        partner.account = Customer.objects.create(
            partner=home,
            reference=f"{CANARY.upper()}-ACC",
            name=f"{tag} Account eG",
            email=f"account@{CANARY_DOMAIN}",
        )
        partner.save(update_fields=["account"])
    tariff.available_to.add(partner)
    tax_owner = partner if mode == PartnerMode.OWN_INVOICING else home
    zero = TaxRate.objects.get_or_create(partner=tax_owner, name="Zero rate", rate_bp=0)[0]
    if mode == PartnerMode.PERCENTAGE:
        CommissionOverride.objects.create(partner=partner, tariff=tariff, rate_bp=4321)
    return partner, zero


def build_canary_world() -> CanaryWorld:
    """The demo, three canary partners billed, paid, credited and (percentage) settled, and
    the viewers: each demo partner's administrator and staff, a portal user of each demo
    partner and of the home partner, and the operator administrator (who must see the
    canaries: the positive control)."""
    from ispbill.billing.run import billing_run_start
    from ispbill.commission.statements import commission_statement_build
    from ispbill.core.money import Money
    from ispbill.events.services import event_batches_expand
    from ispbill.partners.services import partner_home
    from ispbill.payments.credit_notes import credit_note_issue
    from ispbill.payments.services import payment_record
    from ispbill.sepa.collection import collection_run
    from ispbill.sepa.mandates import creditor_settings_save, mandate_create

    demo_load()
    home = partner_home()
    fiber = Tariff.objects.get(partner=home, name="Fiber 100")
    canaries: dict[str, Partner] = {}
    for mode, charge in CANARY_CHARGES.items():
        partner, zero = _canary_partner(mode, home, fiber)
        canaries[mode] = partner
        for n in (1, 2):
            customer = Customer.objects.create(
                partner=partner,
                reference=f"{CANARY.upper()}-{mode[:3]}-{n}",
                name=f"{CANARY.upper()} Customer {mode} {n}",
                company=f"{CANARY.upper()} Company {n}",
                email=f"customer{n}-{mode}@{CANARY_DOMAIN}",
                street=f"{CANARY.upper()} Lane {n}",
                city=f"{CANARY.upper()}burg",
            )
            line = Service.objects.create(
                partner=partner,
                customer=customer,
                tariff=fiber,
                description=f"{CANARY.upper()} line {n}",
                start_date=date(2026, 4, 1),
            )
            # Traffic in April and today: top users, the usage report and their API lists
            # (whose default period is this month) list the canary's customers.
            for day in {date(2026, 4, 20), timezone.localdate()}:
                UsageDay.objects.create(
                    partner=partner,
                    customer=customer,
                    service=line,
                    day=day,
                    bytes_in=10**9,
                    bytes_out=7 * 10**9 + n,
                )
            OneTimeCharge.objects.create(
                partner=partner,
                customer=customer,
                description=f"{CANARY.upper()} installation {n}",
                unit_price_minor=charge + n,
                tax_rate=zero,
                charge_date=date(2026, 4, 20),
            )
            if n == 1:
                _user(f"{CANARY}_portal_{mode}", Role.CUSTOMER, partner, customer)
        _user(f"{CANARY}_admin_{mode}", Role.PARTNER_ADMIN, partner, None)

    # SEPA direct debit: the own-invoicing canary collects under its own creditor id, the
    # home partner for the percentage canary; every canary customer has a mandate, so its
    # invoices carry the pre-notification and go into a batch.
    creditor_settings_save(
        partner=home,
        creditor_id="DE98ZZZ09999999999",
        creditor_name="Nordnetz Breitband GmbH",
        iban="DE89370400440532013000",
        actor="demo",
    )
    own = canaries[PartnerMode.OWN_INVOICING]
    creditor_settings_save(
        partner=own,
        creditor_id="AT61ZZZ01234567890",
        creditor_name=f"{CANARY.upper()} Creditor",
        iban="DE02120300000000202051",
        actor="demo",
    )
    for mode in (PartnerMode.PERCENTAGE, PartnerMode.OWN_INVOICING):
        for customer in Customer.objects.filter(partner=canaries[mode]).order_by("pk"):
            mandate_create(
                customer=customer,
                iban="DE02500105170137075030",
                signature_date=date(2026, 3, 1),
                reference=f"{CANARY.upper()}-M-{customer.pk}",
                debtor_name=f"{CANARY.upper()} Debtor {customer.pk}",
                actor="demo",
            )

    with override_settings(RENDER_PDFS_ON_ISSUE=False, EMAIL_INVOICES_ON_ISSUE=False):
        billing_run_start(run_date=RUN_DATE, started_by="demo")
        # The own-invoicing canary runs its own billing (the default): a run of its own,
        # which no other partner may see.
        own = canaries[PartnerMode.OWN_INVOICING]
        assert own.runs_own_billing
        billing_run_start(run_date=RUN_DATE, issuer=own, started_by="demo")
        # The runs' invoice events, as the sender makes them right after the commits.
        event_batches_expand()
        batches = collection_run(
            on=RUN_DATE, until=RUN_DATE + timedelta(days=40), issuer_ids=[home.pk, own.pk]
        )
        assert len(batches) >= 2, "the canaries' invoices were not collected"
        canary_ids = [p.pk for p in canaries.values()]
        accounts = [p.account_id for p in canaries.values() if p.account_id]
        invoices = list(
            Invoice.objects.filter(partner_id__in=canary_ids)
            | Invoice.objects.filter(customer_id__in=accounts)
        )
        assert invoices, "the canaries were not billed"
        for n, inv in enumerate(sorted(invoices, key=lambda i: i.pk)):
            if n == 0:
                line = inv.lines.order_by("-amount_minor").first()
                assert line is not None
                credit_note_issue(
                    invoice=inv,
                    on=RUN_DATE + timedelta(days=2),
                    reason=f"{CANARY.upper()} outage",
                    lines={line.pk: line.amount_minor // 3},
                    actor="demo",
                )
            inv.refresh_from_db()
            payment_record(
                customer=inv.customer,
                amount=Money.from_minor(inv.total_minor - inv.credited_minor, inv.currency),
                on=RUN_DATE + timedelta(days=3),
                reference=f"{CANARY.upper()}-PAY-{n}",
                actor="demo",
            )
        commission_statement_build(
            partner=canaries[PartnerMode.PERCENTAGE], month=RUN_DATE, actor="demo"
        )
        # Card payments: the own-invoicing canary's Stripe account (its secrets must show
        # nowhere, not even to the operator: only their last four characters), a saved card
        # and a failed autopay of each canary customer of it.
        from ispbill.gateways.models import AttemptStatus, Autopay, AutopayAttempt
        from ispbill.gateways.services import gateway_settings_save

        gateway_settings_save(
            partner=own,
            enabled=True,
            publishable_key=f"pk_test_{CANARY}",
            secret_key=f"sk_test_{CANARY}SECRET0000",
            webhook_secret=f"whsec_{CANARY}SECRET0000",
            actor="demo",
        )
        for customer in Customer.objects.filter(partner=own).order_by("pk"):
            Autopay.objects.create(
                partner=own,
                issuer=own,
                customer=customer,
                enabled=True,
                provider_customer_id=f"cus_{CANARY}",
                payment_method_id=f"pm_{CANARY}",
                card_brand=CANARY[:30],
                card_last4="4242",
            )
            for inv in Invoice.objects.filter(customer=customer).order_by("pk")[:1]:
                AutopayAttempt.objects.create(
                    partner=own,
                    customer=customer,
                    invoice=inv,
                    date=RUN_DATE,
                    amount_minor=inv.total_minor,
                    currency=inv.currency,
                    status=AttemptStatus.FAILED,
                    error=f"{CANARY.upper()} card declined",
                )
        # The e-mail log: a failed and a stuck reminder of each canary invoice (the E-mails
        # page, its filters and GET /emails list them to the operator only).
        from ispbill.invoicing.models import EmailDelivery, EmailKind, EmailStatus

        def reminder(inv: Any, tag: str, **fields: Any) -> EmailDelivery:
            return EmailDelivery.objects.create(
                partner_id=inv.partner_id,
                issuer_id=inv.issuer_id,
                customer_id=inv.customer_id,
                kind=EmailKind.REMINDER,
                invoice=inv,
                from_email=f"{CANARY.upper()} Billing <billing@{CANARY_DOMAIN}>",
                body=f"{CANARY.upper()} body",
                message_id=f"<{tag}{inv.pk}@{CANARY_DOMAIN}>",
                **fields,
            )

        for inv in sorted(invoices, key=lambda i: i.pk):
            reminder(
                inv,
                "",
                idempotency_key=f"canary:{inv.pk}",
                to=f"reminded-{inv.pk}@{CANARY_DOMAIN}",
                subject=f"{CANARY.upper()} reminder {inv.number}",
                status=EmailStatus.FAILED,
                attempts=5,
                last_error=f"{CANARY.upper()} mailbox unavailable",
                last_attempt_at=timezone.now(),
            )
            # And one stuck in the queue two hours (its task lost: "Send N stuck e-mails").
            stuck = reminder(
                inv,
                "stuck-",
                idempotency_key=f"canary-stuck:{inv.pk}",
                to=f"stuck-{inv.pk}@{CANARY_DOMAIN}",
                subject=f"{CANARY.upper()} stuck reminder {inv.number}",
                status=EmailStatus.QUEUED,
            )
            EmailDelivery.objects.filter(pk=stuck.pk).update(
                created_at=timezone.now() - timedelta(hours=2)
            )

    viewers: dict[str, User] = {}
    demo_partners = {
        PartnerMode.PERCENTAGE: "citynet",
        PartnerMode.OWN_INVOICING: "alpenfunk",
        PartnerMode.AGGREGATED: "wispverbund",
    }
    for mode, username in demo_partners.items():
        admin = User.objects.get(username=username)
        viewers[f"{mode}_admin"] = admin
        partner = admin.partner
        viewers[f"{mode}_staff"] = _user(f"{username}_staff", Role.PARTNER_STAFF, partner, None)
        customer = (
            Customer.objects.filter(partner=partner, services__isnull=False).order_by("pk").first()
        )
        viewers[f"{mode}_customer"] = _user(f"{username}_portal", Role.CUSTOMER, partner, customer)
    viewers["home_customer"] = User.objects.get(username="customer")

    world = CanaryWorld(canaries=canaries, viewers=viewers)
    world.operator = User.objects.get(username="admin")
    canary_ids = [p.pk for p in canaries.values()]
    accounts = [p.account_id for p in canaries.values() if p.account_id]
    figures: set[int] = set()
    for inv in Invoice.objects.filter(partner_id__in=canary_ids) | Invoice.objects.filter(
        customer_id__in=accounts
    ):
        figures |= {inv.total_minor, inv.net_minor}
    for cn in CreditNote.objects.filter(invoice__partner_id__in=canary_ids):
        figures.add(cn.total_minor)
    for pay in Payment.objects.filter(partner_id__in=canary_ids) | Payment.objects.filter(
        customer_id__in=accounts
    ):
        figures.add(pay.amount_minor)
    for acc in CommissionAccrual.objects.filter(partner_id__in=canary_ids):
        figures.add(acc.amount_minor)
    for st in CommissionStatement.objects.filter(partner_id__in=canary_ids):
        figures.add(st.total_minor)
    # Only figures of four digits and more before the decimal point that no other row of
    # the installation comes to: an unusual figure is a canary's, nothing else.
    others = set(
        Invoice.objects.exclude(pk__in=[i.pk for i in invoices]).values_list(
            "total_minor", flat=True
        )
    )
    world.amounts = {f for f in figures if abs(f) >= 100000 and f not in others}
    assert len(world.amounts) >= 6, world.amounts
    return world
