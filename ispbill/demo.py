"""Demo data: the home partner and one partner in each mode, tariffs, customers with
services, users for each role, and a few months of history: billing runs from January to
April, payments for most invoices, a credit note, the percentage partner's commission
statements (approved, paid), and the ISP's SEPA creditor settings with a dozen mandates.
Idempotent: loading it twice adds nothing. ``ispbill demo`` then stores the history's PDFs
(``demo_pdfs_render``), as the billing runs would have after issue."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.test.utils import override_settings
from faker import Faker
from schwifty import IBAN

from ispbill.accounts.models import Role, User
from ispbill.catalog.models import PartnerPrice, Tariff, TariffKind, TaxRate
from ispbill.core.periods import add_months
from ispbill.core.tenancy import system_scope
from ispbill.customers.models import Customer
from ispbill.invoicing.templates import issuer_logo_upload
from ispbill.partners.models import AggregationCycle, CommissionBase, Partner, PartnerMode
from ispbill.partners.services import partner_home
from ispbill.sepa.mandates import creditor_settings_save, mandate_create
from ispbill.subscriptions.models import OneTimeCharge, Service

if TYPE_CHECKING:
    from ispbill.invoicing.pdfs import PdfRenderStats

DEMO_PASSWORD = "ispbill-demo"
DEMO_MARKER_PARTNER = "CityNet Resellers"


@dataclass
class DemoResult:
    created: bool
    users: list[tuple[str, str]] = field(default_factory=list)
    partners: int = 0
    customers: int = 0
    services: int = 0
    invoices: int = 0
    mandates: int = 0
    start: date | None = None


def demo_logo_png(color: str) -> bytes:
    """A small generated logo (mountains under a sun in ``color``), for a demo brand."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (240, 80), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((150, 8, 190, 48), fill="#f2b705")
    draw.polygon([(0, 78), (70, 10), (140, 78)], fill=color)
    draw.polygon([(80, 78), (150, 24), (220, 78)], fill=color)
    draw.polygon([(56, 24), (70, 10), (84, 24), (70, 30)], fill="#ffffff")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def demo_users() -> list[tuple[str, str]]:
    return [
        ("admin", "Operator administrator"),
        ("accountant", "Operator accountant"),
        ("support", "Operator support"),
        ("citynet", "Partner administrator, CityNet Resellers (percentage)"),
        ("alpenfunk", "Partner administrator, Alpenfunk (own invoicing)"),
        ("wispverbund", "Partner administrator, WISP Verbund (aggregated)"),
        ("customer", "Customer portal"),
        ("alpenkunde", "Customer portal of an Alpenfunk customer (Alpenfunk's brand)"),
    ]


# The tests' and the docs' figures: the demo billed January to April 2026.
DEMO_PINNED_START = date(2026, 1, 1)


def demo_start(today: date) -> date:
    """The first month of a demo that is current on ``today``: four whole months of history
    before this month, whose billing dates are left for the user to run."""
    return add_months(today.replace(day=1), -4)


def demo_load(*, start: date | None = None) -> DemoResult:
    """Load the demo: four months of business from ``start`` (the first of a month; by
    default the pinned January 2026 the tests and docs use). Its documents have no stored
    PDF yet: ``demo_pdfs_render`` stores them (``ispbill demo`` does), or they render when
    first opened."""
    start = (start or DEMO_PINNED_START).replace(day=1)
    # The history's PDFs are not rendered invoice by invoice after each run's commit (one
    # batch afterwards, ``demo_pdfs_render``, is faster), nor is the history e-mailed to the
    # demo's customers.
    with (
        system_scope(),
        transaction.atomic(),
        override_settings(RENDER_PDFS_ON_ISSUE=False, EMAIL_INVOICES_ON_ISSUE=False),
    ):
        if Partner.objects.filter(name=DEMO_MARKER_PARTNER).exists():
            return DemoResult(created=False, users=demo_users())
        result = _build(start)
        result.invoices = _history(start)
        result.mandates = _direct_debit(start)
        result.start = start
        return result


def demo_pdfs_render(
    *, progress: Callable[[int, int, PdfRenderStats], None] | None = None
) -> PdfRenderStats:
    """Render and store the PDF of every invoice and credit note of the demo's history, as
    the billing runs store them after issue when ``RENDER_PDFS_ON_ISSUE`` is on, so a fresh
    demo is a consistent installation: no run page says "to render", and ``ispbill check``'s
    ``documents.pdf_missing`` passes also after its grace period (docs/operations.md,
    "Checks"). About 270 documents, 4-5 s on two cores."""
    from ispbill.invoicing.pdfs import documents_pdf_render_pending

    with system_scope():
        return documents_pdf_render_pending(batch=100, progress=progress)


def _vat_id(rng: random.Random) -> str:
    """A German VAT id with its check digit (ISO 7064 MOD 11,10), as the forms require."""
    from stdnum.iso7064 import mod_11_10

    digits = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(7))
    return "DE" + digits + mod_11_10.calc_check_digit(digits)


def _build(start: date) -> DemoResult:
    rng = random.Random(42)
    fake = Faker("de_DE")
    fake.seed_instance(42)

    home = partner_home()
    home.name = "Main"
    home.legal_name = "Nordnetz Breitband GmbH"
    home.street, home.postcode, home.city = "Hafenstraße 12", "20457", "Hamburg"
    home.vat_id, home.email, home.phone = (
        "DE287654324",
        "billing@nordnetz.example",
        "+49 40 1234560",
    )
    home.iban, home.bic = "DE89370400440532013000", "COBADEFF"
    home.save()

    vat = TaxRate.objects.create(partner=home, name="VAT 19%", rate_bp=1900)
    TaxRate.objects.create(partner=home, name="VAT 7%", rate_bp=700)

    def tariff(owner: Partner, tax: TaxRate, name: str, price: int, **kw: object) -> Tariff:
        return Tariff.objects.create(
            partner=owner, tax_rate=tax, name=name, price_minor=price, **kw
        )

    fiber100 = tariff(home, vat, "Fiber 100", 2990, download_kbps=100_000, upload_kbps=40_000)
    fiber250 = tariff(home, vat, "Fiber 250", 3990, download_kbps=250_000, upload_kbps=100_000)
    fiber1000 = tariff(home, vat, "Fiber 1000", 6990, download_kbps=1_000_000, upload_kbps=500_000)
    business = tariff(
        home,
        vat,
        "Business 500 (quarterly)",
        24900,
        period_months=3,
        download_kbps=500_000,
        upload_kbps=500_000,
    )
    static_ip = tariff(home, vat, "Static IPv4 address", 500, kind=TariffKind.RECURRING)
    router = tariff(home, vat, "Router rental", 399, kind=TariffKind.RECURRING)

    citynet = Partner.objects.create(
        name=DEMO_MARKER_PARTNER,
        legal_name="CityNet Vertrieb UG",
        mode=PartnerMode.PERCENTAGE,
        street="Lindenallee 4",
        postcode="24103",
        city="Kiel",
        vat_id=_vat_id(rng),
        email="office@citynet.example",
        commission_bp=1250,
        commission_base=CommissionBase.PAID,
    )
    alpenfunk = Partner.objects.create(
        name="Alpenfunk",
        legal_name="Alpenfunk Internet GmbH",
        mode=PartnerMode.OWN_INVOICING,
        street="Bergweg 7",
        postcode="83471",
        city="Berchtesgaden",
        vat_id=_vat_id(rng),
        email="rechnung@alpenfunk.example",
        iban="DE02120300000000202051",
        bic="BYLADEM1001",
        billing_day=5,
        payment_due_days=10,
        invoice_number_pattern="AF-{year}-{next|5}",
        credit_note_number_pattern="AF-GS-{year}-{next|4}",
        wholesale_charges=True,
        discount_bp=3000,
        # Its brand: its customers' portal, e-mails and PDFs show Alpenfunk, not the operator.
        brand_name="Alpenfunk",
        brand_color="#0f7b5a",
        support_email="service@alpenfunk.example",
        support_phone="+49 8652 97650",
        support_website="https://alpenfunk.example",
        email_sender_name="Alpenfunk Kundenservice",
    )
    issuer_logo_upload(
        issuer=alpenfunk, filename="logo.png", content=demo_logo_png("#0f7b5a"), actor="demo"
    )
    wisp = Partner.objects.create(
        name="WISP Verbund",
        legal_name="WISP Verbund eG",
        mode=PartnerMode.AGGREGATED,
        street="Dorfstraße 1",
        postcode="17489",
        city="Greifswald",
        vat_id=_vat_id(rng),
        email="buchhaltung@wisp-verbund.example",
        discount_bp=2500,
        aggregation_day=5,
        aggregation_cycle=AggregationCycle.QUARTERLY,
        block_subcustomers=True,
    )
    for p in (citynet, wisp, alpenfunk):
        for t in (fiber100, fiber250, fiber1000, static_ip, router):
            t.available_to.add(p)
    PartnerPrice.objects.create(partner=wisp, tariff=fiber100, price_minor=2100)
    PartnerPrice.objects.create(partner=wisp, tariff=fiber250, price_minor=2900)

    alp_vat = TaxRate.objects.create(partner=alpenfunk, name="MwSt 19%", rate_bp=1900)
    alp_tariffs = [
        tariff(alpenfunk, alp_vat, "Alpen Funk 50", 3450, download_kbps=50_000, upload_kbps=10_000),
        tariff(
            alpenfunk, alp_vat, "Alpen Funk 150", 4950, download_kbps=150_000, upload_kbps=30_000
        ),
    ]

    # Partner accounts: the home partner's customer records that the operator bills.
    for p in (wisp, alpenfunk):
        p.account = Customer.objects.create(
            partner=home,
            reference=f"P{p.pk:04d}",
            name=p.legal_name,
            company=p.legal_name,
            email=p.email,
            street=p.street,
            postcode=p.postcode,
            city=p.city,
            vat_id=p.vat_id,
        )
        p.save(update_fields=["account"])

    plans: dict[int, list[Tariff]] = {
        home.pk: [fiber100, fiber250, fiber1000, business],
        citynet.pk: [fiber100, fiber250, fiber1000],
        alpenfunk.pk: [*alp_tariffs, fiber100],
        wisp.pk: [fiber100, fiber250],
    }
    n_customers = n_services = 0
    for partner in (home, citynet, alpenfunk, wisp):
        for i in range(1, 31):
            company = fake.company() if i % 6 == 0 else ""
            customer = Customer.objects.create(
                partner=partner,
                reference=f"{partner.pk:02d}{i:05d}",
                name=fake.name(),
                company=company,
                email=fake.unique.email(),
                phone=fake.phone_number(),
                street=fake.street_address(),
                postcode=fake.postcode(),
                city=fake.city(),
                vat_id=_vat_id(rng) if company else "",
                language="de" if i % 3 else "en",
            )
            n_customers += 1
            main_plan = plans[partner.pk][i % len(plans[partner.pk])]
            started = date(start.year, start.month, 1 + (i * 7) % 27)
            Service.objects.create(
                partner=partner,
                customer=customer,
                tariff=main_plan,
                description=main_plan.name,
                start_date=started,
            )
            n_services += 1
            if partner.pk != alpenfunk.pk and i % 4 == 0:
                Service.objects.create(
                    partner=partner,
                    customer=customer,
                    tariff=static_ip,
                    description=static_ip.name,
                    start_date=started,
                )
                n_services += 1
            if partner.pk != alpenfunk.pk and i % 5 == 0:
                Service.objects.create(
                    partner=partner,
                    customer=customer,
                    tariff=router,
                    description=router.name,
                    start_date=started,
                    discount_bp=5000,
                    discount_until=add_months(start, 6) - timedelta(days=1),
                )
                n_services += 1
            if i % 10 == 1:
                OneTimeCharge.objects.create(
                    partner=partner,
                    customer=customer,
                    description="Installation",
                    unit_price_minor=4900,
                    tax_rate=alp_vat if partner.pk == alpenfunk.pk else vat,
                    charge_date=started,
                )

    # The portal user is a residential customer with services, not a partner's account.
    portal_customer = (
        Customer.objects.filter(partner=home, services__isnull=False)
        .exclude(pk__in=Partner.objects.filter(account__isnull=False).values("account_id"))
        .order_by("id")
        .first()
    )
    alpenfunk_customer = (
        Customer.objects.filter(partner=alpenfunk, services__isnull=False).order_by("id").first()
    )
    users = [
        ("admin", Role.ADMIN, None, None, "Anna", "Admin"),
        ("accountant", Role.ACCOUNTANT, None, None, "Bernd", "Buchhalter"),
        ("support", Role.SUPPORT, None, None, "Sina", "Support"),
        ("citynet", Role.PARTNER_ADMIN, citynet, None, "Cem", "City"),
        ("alpenfunk", Role.PARTNER_ADMIN, alpenfunk, None, "Alois", "Funk"),
        ("wispverbund", Role.PARTNER_ADMIN, wisp, None, "Wiebke", "Wisp"),
        ("customer", Role.CUSTOMER, home, portal_customer, "Carla", "Kundin"),
        ("alpenkunde", Role.CUSTOMER, alpenfunk, alpenfunk_customer, "Alma", "Alpen"),
    ]
    user_partner: Partner | None
    for username, role, user_partner, cust, first, last in users:
        if cust is not None:
            # A portal user is the account holder: the portal shows the customer's name.
            first, _, last = cust.name.partition(" ")
        user = User(
            username=username,
            role=role,
            partner=user_partner,
            customer=cust,
            first_name=first,
            last_name=last,
            email=f"{username}@nordnetz.example",
            is_staff=role == Role.ADMIN,
            is_superuser=role == Role.ADMIN,
        )
        user.set_password(DEMO_PASSWORD)
        user.save()

    return DemoResult(
        created=True, users=demo_users(), partners=4, customers=n_customers, services=n_services
    )


def _direct_debit(start: date) -> int:
    """The ISP collects by SEPA direct debit (docs/payments.md): its creditor identifier
    (the Bundesbank's published test identifier) and signed mandates of a dozen of its own
    customers, after the history, so their next invoices announce the debit."""
    home = partner_home()
    fee_rate = TaxRate.objects.filter(partner=home, rate_bp=1900).first()
    creditor_settings_save(
        partner=home,
        creditor_id="DE98ZZZ09999999999",
        creditor_name=home.legal_name,
        iban=home.iban,
        bic="COBADEFFXXX",
        return_fee_minor=300,
        return_fee_tax_rate=fee_rate,
        actor="demo",
    )
    signers = (
        Customer.objects.filter(partner=home, services__isnull=False).distinct().order_by("id")[:12]
    )
    for n, c in enumerate(signers):
        iban = IBAN.generate("DE", bank_code="37040044", account_code=f"{532013100 + n}")
        mandate_create(
            customer=c, iban=str(iban), signature_date=add_months(start, 3), actor="demo"
        )
    return len(signers)


def _history(start: date) -> int:
    """Bill the months from ``start`` to the 5th of its fourth month on each billing day,
    pay most invoices a few days after issue, credit one, and settle the commission."""
    from ispbill.billing.run import billing_run_start
    from ispbill.commission.statements import (
        commission_statement_approve,
        commission_statement_build,
        commission_statement_pay,
        commission_statements_build_closed,
    )
    from ispbill.core.money import Money
    from ispbill.invoicing.models import Invoice
    from ispbill.payments.credit_notes import credit_note_issue
    from ispbill.payments.services import payment_record

    rng = random.Random(7)
    months = [add_months(start.replace(day=1), n) for n in range(4)]
    run_dates = [m.replace(day=day) for m in months for day in (1, 5)]
    issued = 0
    own_runs = list(
        Partner.objects.filter(mode=PartnerMode.OWN_INVOICING, runs_own_billing=True).order_by("pk")
    )
    for run_date in run_dates:
        # The operator's run, then each own-invoicing partner's own (its history: Alpenfunk).
        run_ids = [billing_run_start(run_date=run_date, started_by="demo").run_id]
        for partner in own_runs:
            run_ids.append(
                billing_run_start(run_date=run_date, issuer=partner, started_by="demo").run_id
            )
        invoices = list(
            Invoice.objects.filter(billing_run_id__in=[i for i in run_ids if i]).select_related(
                "customer"
            )
        )
        issued += len(invoices)
        for inv in invoices:
            roll = rng.random()
            if roll > 0.9 or inv.issue_date >= run_dates[-1]:
                continue  # left open: the UI shows unpaid and overdue invoices too
            amount = inv.total_minor if roll < 0.85 else inv.total_minor // 2
            payment_record(
                customer=inv.customer,
                amount=Money.from_minor(amount, inv.currency),
                on=inv.issue_date + timedelta(days=rng.randint(2, 12)),
                reference=f"DEMO-{inv.number}",
                actor="demo",
            )
    citynet = Partner.objects.get(name=DEMO_MARKER_PARTNER)
    credited = (
        Invoice.objects.filter(customer__partner=citynet, billing_date=months[1])
        .order_by("pk")
        .first()
    )
    if credited is not None:
        line = credited.lines.order_by("position").first()
        if line is not None:
            credit_note_issue(
                invoice=credited,
                on=months[1] + timedelta(days=14),
                reason="Compensation for a three-day outage",
                lines={line.pk: max(line.amount_minor // 10, 1)},
                actor="demo",
            )
    for n, month in enumerate(months[:3]):
        statement = commission_statement_build(partner=citynet, month=month, actor="demo")
        if n < 2:
            statement = commission_statement_approve(
                statement=statement, actor="demo", on=months[n + 1] + timedelta(days=1)
            )
        if n < 1:
            commission_statement_pay(
                statement=statement,
                on=months[n + 1] + timedelta(days=9),
                reference=f"CN-PAYOUT-{month:%Y%m}",
                actor="demo",
            )
    # Every later closed month up to today, as the daily work builds them (drafts to review).
    commission_statements_build_closed(actor="demo")
    return issued
