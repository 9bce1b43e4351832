"""Customer import from CSV: customers with their partner, billing settings and services.

Every row is checked before anything is written; one error anywhere refuses the whole file
(one transaction, nothing written) and every error is reported with its row and column.
Rows are counted as a spreadsheet shows them: the header is row 1, the first customer row 2.
Columns are described in ``COLUMNS`` and docs/data-import-export.md."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q

from ispbill.catalog.models import Tariff
from ispbill.catalog.selectors import tariffs_sellable
from ispbill.core.audit import audit_record
from ispbill.core.money import (
    QUANTITY_MAX,
    AmountError,
    AmountRangeError,
    Money,
    line_check,
    percent_parse,
)
from ispbill.core.tenancy import current_partner_ids
from ispbill.core.validators import (
    PAYMENT_DUE_DAYS_MAX,
    FieldValueError,
    country_code_clean,
    day_clean,
    vat_id_clean,
)
from ispbill.customers.models import Customer, CustomerStatus
from ispbill.partners.models import Partner, PartnerMode, PaymentPeriod
from ispbill.subscriptions.models import Service, ServiceStatus

# column -> what it holds (the template and the docs are generated from this table)
COLUMNS: dict[str, str] = {
    "reference": "Customer number, unique per partner (required)",
    "name": "Name (required)",
    "partner": "Partner name or id (operator only; empty: the home partner or the one chosen)",
    "company": "Company name",
    "email": "E-mail address",
    "phone": "Phone number",
    "street": "Street and number",
    "postcode": "Postcode",
    "city": "City",
    "country": "ISO 3166 two-letter country code in capitals (default DE)",
    "vat_id": "VAT identification number with its country prefix (DE123456788)",
    "language": "Document language: en or de (default en)",
    "status": "new, active, blocked or inactive (default active)",
    "billing_day": "Billing day 1-28 (empty: the issuer's)",
    "payment_due_days": "Days from issue to due date (empty: the issuer's)",
    "payment_period": "prepaid or postpaid (empty: the issuer's)",
    "min_balance": "Minimum balance, decimal in the issuer's currency, may be negative",
    "tariff": "Tariff name: the row adds a service of this tariff",
    "service_start": "Service start date YYYY-MM-DD (required with a tariff)",
    "service_end": "Service end date YYYY-MM-DD (included)",
    "service_quantity": "Quantity (default 1)",
    "service_price": "Price override per period, decimal (empty: the tariff's price)",
    "service_discount": "Discount in percent, up to two decimals (e.g. 12.5)",
    "service_description": "Service description (default: the tariff name)",
}
REQUIRED = ("reference", "name")
SERVICE_COLUMNS = tuple(c for c in COLUMNS if c == "tariff" or c.startswith("service_"))
CUSTOMER_COLUMNS = tuple(c for c in COLUMNS if c not in SERVICE_COLUMNS)

TEMPLATE_ROWS = [
    {
        "reference": "C10001",
        "name": "Erika Mustermann",
        "email": "erika@example.net",
        "street": "Hauptstr. 1",
        "postcode": "10115",
        "city": "Berlin",
        "country": "DE",
        "language": "de",
        "billing_day": "1",
        "tariff": "Fiber 100",
        "service_start": "2026-01-01",
    },
    {
        "reference": "C10001",
        "tariff": "Static IP",
        "service_start": "2026-01-01",
        "service_price": "4.50",
    },
]


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class PlannedService:
    tariff: Tariff
    start_date: date
    end_date: date | None
    quantity: int
    price_override_minor: int | None
    discount_bp: int
    description: str


@dataclass
class PlannedCustomer:
    row: int
    partner: Partner
    fields: dict[str, Any]
    status: str
    services: list[PlannedService] = field(default_factory=list)

    @property
    def reference(self) -> str:
        return str(self.fields["reference"])

    @property
    def name(self) -> str:
        return str(self.fields["name"])


@dataclass
class CustomerImportResult:
    dry_run: bool
    errors: list[RowError] = field(default_factory=list)
    planned: list[PlannedCustomer] = field(default_factory=list)
    customers_created: int = 0
    services_created: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def services_planned(self) -> int:
        return sum(len(p.services) for p in self.planned)


class CustomerImportRefused(Exception):
    """Raised inside the import transaction to roll it back; carries the result."""

    def __init__(self, result: CustomerImportResult) -> None:
        super().__init__(f"{len(result.errors)} error(s)")
        self.result = result


def customers_template_csv() -> str:
    """A CSV with every column and two example rows (one customer, two services)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in TEMPLATE_ROWS:
        writer.writerow({c: row.get(c, "") for c in COLUMNS})
    return out.getvalue()


def csv_rows(text: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV text, comma- or semicolon-separated, BOM tolerated."""
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = [r for r in reader]
    if not rows:
        return [], []
    header = [h.strip().lower() for h in rows[0]]
    return header, [r for r in rows[1:] if any(cell.strip() for cell in r)]


class _Row:
    """One CSV row; errors found while reading it are collected, not raised."""

    def __init__(self, number: int, values: dict[str, str], errors: list[RowError]) -> None:
        self.number = number
        self.values = values
        self.errors = errors

    def error(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.number, column, message))

    def text(self, column: str, max_length: int | None = None) -> str:
        value = self.values.get(column, "").strip()
        if max_length is not None and len(value) > max_length:
            self.error(column, f"is longer than {max_length} characters")
        return value

    def integer(self, column: str, low: int, high: int) -> int | None:
        value = self.text(column)
        if not value:
            return None
        try:
            number = int(value)
        except ValueError:
            self.error(column, f"{value!r} is not a whole number")
            return None
        if not low <= number <= high:
            self.error(column, f"{number} is not between {low} and {high}")
            return None
        return number

    def day(self, column: str) -> date | None:
        value = self.text(column)
        if not value:
            return None
        try:
            return day_clean(date.fromisoformat(value))
        except FieldValueError as exc:
            self.error(column, str(exc))
            return None
        except ValueError:
            self.error(column, f"{value!r} is not a date as YYYY-MM-DD")
            return None

    def money(self, column: str, currency: str) -> Money | None:
        value = self.text(column).replace(" ", "")
        if not value:
            return None
        try:
            return Money.parse(value, currency)
        except AmountRangeError as exc:
            self.error(column, str(exc))
            return None
        except ValueError:
            self.error(column, f"{value!r} is not an amount in {currency} (write 12.50)")
            return None

    def checked(self, column: str, cleaner: Callable[[str], str]) -> str:
        """The value as ``cleaner`` (ispbill/core/validators.py) normalises it, the
        validator of the web forms and the API."""
        value = self.text(column)
        try:
            return cleaner(value)
        except FieldValueError as exc:
            self.error(column, str(exc))
            return value

    def choice(self, column: str, choices: list[str], default: str) -> str:
        value = self.text(column).lower()
        if not value:
            return default
        if value not in choices:
            self.error(column, f"{value!r} is not one of {', '.join(choices)}")
            return default
        return value


def _issuer_currency(partner: Partner, home: Partner) -> str:
    return partner.currency if partner.mode == PartnerMode.OWN_INVOICING else home.currency


def _sellable_tariffs(partners: list[Partner]) -> dict[tuple[int, str], Tariff]:
    """(partner id, tariff name) -> tariff, for every tariff those partners may sell
    (``catalog.selectors.tariffs_sellable``); a partner's own tariff wins over an operator
    tariff of the same name. One query per partner of the file."""
    found: dict[tuple[int, str], Tariff] = {}
    for p in partners:
        for t in tariffs_sellable(partner=p).select_related("tax_rate"):
            if t.partner_id == p.pk:
                found[(p.pk, t.name)] = t
            else:
                found.setdefault((p.pk, t.name), t)
    return found


def _resolve_partner(
    row: _Row,
    *,
    fixed: Partner | None,
    may_choose: bool,
    partners_by_key: dict[str, Partner],
    home: Partner,
) -> Partner | None:
    value = row.text("partner")
    if not value:
        return fixed or home
    chosen = partners_by_key.get(value.lower())
    if chosen is None:
        if not may_choose and fixed is not None:
            row.error("partner", f"you can import only into {fixed.name}")
        else:
            row.error("partner", f"no partner named {value!r}")
        return None
    if fixed is not None and chosen.pk != fixed.pk:
        row.error("partner", f"{chosen.name} is not {fixed.name}, the partner imported into")
        return None
    return chosen


def customers_plan(
    *, csv_text: str, partner: Partner | None = None, may_choose_partner: bool = True
) -> CustomerImportResult:
    """Read and check every row; nothing is written. ``partner`` fixes the partner of every
    row (a partner's own import); ``may_choose_partner`` lets the ``partner`` column name
    any partner (the operator)."""
    result = CustomerImportResult(dry_run=True)
    errors = result.errors
    header, rows = csv_rows(csv_text)
    if not header:
        errors.append(RowError(1, "", "the file is empty; start from the template"))
        return result
    unknown = [h for h in header if h not in COLUMNS]
    for name in unknown:
        errors.append(RowError(1, name, "unknown column; see the template for the columns"))
    for name in REQUIRED:
        if name not in header:
            errors.append(RowError(1, name, "required column is missing"))
    if len(set(header)) != len(header):
        errors.append(RowError(1, "", "a column name appears twice"))
    if errors:
        return result
    if not rows:
        errors.append(RowError(2, "", "the file has no customer rows"))
        return result

    home = Partner.objects.get(is_home=True)
    visible = list(Partner.objects.all()) if may_choose_partner else [partner] if partner else []
    partners_by_key: dict[str, Partner] = {}
    for p in visible:
        if p is None:
            continue
        partners_by_key[p.name.lower()] = p
        partners_by_key[str(p.pk)] = p

    parsed: list[tuple[_Row, Partner | None]] = []
    for index, raw in enumerate(rows, start=2):
        values = {h: (raw[i] if i < len(raw) else "") for i, h in enumerate(header)}
        row = _Row(index, values, errors)
        if len(raw) > len(header):
            row.error("", f"{len(raw)} values for {len(header)} columns")
        chosen = _resolve_partner(
            row,
            fixed=partner,
            may_choose=may_choose_partner,
            partners_by_key=partners_by_key,
            home=home,
        )
        if chosen is not None and not chosen.is_active:
            row.error("partner", f"{chosen.name} is disabled; it cannot take new customers")
        parsed.append((row, chosen))

    used_partners = {chosen.pk: chosen for _, chosen in parsed if chosen is not None}
    existing: set[tuple[int, str]] = set()
    references_by_partner: dict[int, set[str]] = defaultdict(set)
    for row, chosen in parsed:
        if chosen is not None:
            references_by_partner[chosen.pk].add(row.text("reference"))
    for pid, refs in references_by_partner.items():
        for chunk_start in range(0, len(refs), 2000):
            chunk = sorted(refs)[chunk_start : chunk_start + 2000]
            existing.update(
                (pid, r)
                for r in Customer._base_manager.filter(
                    partner_id=pid, reference__in=chunk
                ).values_list("reference", flat=True)
            )
    tariffs = _sellable_tariffs(list(used_partners.values()))

    planned: dict[tuple[int, str], PlannedCustomer] = {}
    for row, maybe in parsed:
        reference = row.text("reference", 40)
        if not reference:
            row.error("reference", "is required")
        if maybe is None:
            continue
        p = maybe
        currency = _issuer_currency(p, home)
        key = (p.pk, reference)
        customer = planned.get(key)
        if customer is None:
            customer = _plan_customer(row, p, reference, currency, existing)
            if customer is None:
                continue
            planned[key] = customer
        else:
            for column in CUSTOMER_COLUMNS:
                if column in ("reference", "partner"):
                    continue
                value = row.text(column)
                if value and value != str(customer.fields.get(column) or ""):
                    row.error(
                        column,
                        f"reference {reference} appears on an earlier row (row {customer.row}); "
                        "a repeated row adds a service and leaves customer columns empty",
                    )
                    break
        service = _plan_service(row, p, currency, tariffs)
        if service is not None:
            customer.services.append(service)
        elif not row.text("tariff") and customer.row != row.number:
            row.error("tariff", f"reference {reference} repeats row {customer.row}; add a tariff")
    result.planned = list(planned.values())
    return result


def _plan_customer(
    row: _Row, partner: Partner, reference: str, currency: str, existing: set[tuple[int, str]]
) -> PlannedCustomer | None:
    fields: dict[str, Any] = {"reference": reference}
    if reference and (partner.pk, reference) in existing:
        row.error("reference", f"{partner.name} already has a customer {reference}")
    fields["name"] = row.text("name", 200)
    if not fields["name"]:
        row.error("name", "is required")
    for column, length in (
        ("company", 200),
        ("phone", 40),
        ("street", 200),
        ("postcode", 20),
        ("city", 100),
    ):
        fields[column] = row.text(column, length)
    fields["vat_id"] = row.checked("vat_id", vat_id_clean)
    email = row.text("email", 254)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            row.error("email", f"{email!r} is not an e-mail address")
    fields["email"] = email
    fields["country"] = row.checked("country", country_code_clean) if row.text("country") else "DE"
    fields["language"] = row.choice("language", ["en", "de"], "en")
    status = row.choice("status", list(CustomerStatus.values), CustomerStatus.ACTIVE)
    fields["billing_day"] = row.integer("billing_day", 1, 28)
    fields["payment_due_days"] = row.integer("payment_due_days", 0, PAYMENT_DUE_DAYS_MAX)
    fields["payment_period"] = row.choice("payment_period", list(PaymentPeriod.values), "")
    minimum = row.money("min_balance", currency)
    fields["min_balance_minor"] = minimum.minor if minimum is not None else None
    return PlannedCustomer(row=row.number, partner=partner, fields=fields, status=status)


def _plan_service(
    row: _Row, partner: Partner, currency: str, tariffs: dict[tuple[int, str], Tariff]
) -> PlannedService | None:
    name = row.text("tariff")
    if not name:
        for column in SERVICE_COLUMNS:
            if row.text(column):
                row.error(column, "service columns need a tariff")
                break
        return None
    tariff = tariffs.get((partner.pk, name))
    if tariff is None:
        row.error("tariff", f"{partner.name} sells no active tariff named {name!r}")
    start = row.day("service_start")
    if start is None and not row.text("service_start"):
        row.error("service_start", "is required with a tariff")
    end = row.day("service_end")
    if start is not None and end is not None and end < start:
        row.error("service_end", "is before the service start")
    quantity = row.integer("service_quantity", 1, QUANTITY_MAX) or 1
    price = row.money("service_price", currency)
    if price is not None and price.minor < 0:
        row.error("service_price", "cannot be negative")
    unit = price.minor if price is not None else (tariff.price_minor if tariff else 0)
    try:
        line_check(unit_minor=unit, quantity=quantity, currency=currency)
    except AmountRangeError as exc:
        row.error("service_quantity", str(exc))
    discount_bp = 0
    discount = row.text("service_discount")
    if discount:
        try:
            discount_bp = percent_parse(discount)
        except AmountError as exc:
            row.error("service_discount", f"{discount!r}: {exc}")
    description = row.text("service_description", 200)
    if tariff is None or start is None:
        return None
    return PlannedService(
        tariff=tariff,
        start_date=start,
        end_date=end,
        quantity=quantity,
        price_override_minor=price.minor if price is not None else None,
        discount_bp=discount_bp,
        description=description or tariff.name,
    )


def customers_import(
    *, csv_text: str, actor: Any = None, partner: Partner | None = None, dry_run: bool
) -> CustomerImportResult:
    """Check every row, then (unless ``dry_run`` or any row has an error) create every
    customer and service in one transaction. ``partner``: the partner imported into (a
    partner user's own; the ``partner`` column may then only name it). Without it the
    ``partner`` column chooses among the partners of the open scope (the operator's: all)."""
    scoped = current_partner_ids()
    if partner is None and scoped is not None:
        raise PermissionError("a partner's import names the partner it imports into")
    if partner is not None and scoped is not None and partner.pk not in scoped:
        raise PermissionError("a partner can only import into itself")
    may_choose = partner is None
    result = customers_plan(csv_text=csv_text, partner=partner, may_choose_partner=may_choose)
    result.dry_run = dry_run
    if result.errors or dry_run:
        return result
    try:
        with transaction.atomic():
            _write(result, actor)
    except CustomerImportRefused as refused:
        return refused.result
    return result


def _write(result: CustomerImportResult, actor: Any) -> None:
    customers = [Customer(partner=p.partner, status=p.status, **p.fields) for p in result.planned]
    created = Customer.objects.bulk_create(customers, batch_size=1000)
    if any(c.pk is None for c in created):  # pragma: no cover - backends without RETURNING
        by_key = {
            (c.partner_id, c.reference): c.pk
            for c in Customer._base_manager.filter(
                Q(reference__in=[c.reference for c in customers])
            ).only("pk", "partner_id", "reference")
        }
        for c in created:
            c.pk = by_key[(c.partner_id, c.reference)]
    services = [
        Service(
            partner_id=c.partner_id,
            customer_id=c.pk,
            tariff=s.tariff,
            description=s.description,
            quantity=s.quantity,
            price_override_minor=s.price_override_minor,
            discount_bp=s.discount_bp,
            start_date=s.start_date,
            end_date=s.end_date,
            status=ServiceStatus.ACTIVE,
        )
        for c, planned in zip(created, result.planned, strict=True)
        for s in planned.services
    ]
    Service.objects.bulk_create(services, batch_size=1000)
    result.customers_created = len(created)
    result.services_created = len(services)
    per_partner: dict[int, list[str]] = defaultdict(list)
    for c in created:
        per_partner[c.partner_id].append(c.reference)
    for partner_id, references in per_partner.items():
        audit_record(
            action="customers.imported",
            actor=actor,
            partner_id=partner_id,
            object_type="partners.partner",
            object_id=str(partner_id),
            changes={"customers": len(references), "references": references},
        )
