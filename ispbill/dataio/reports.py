"""Reports: revenue, VAT, receivables aging, commissions, customers, aggregated invoices.

Each report is one or two aggregate queries (GROUP BY), never a query per row, read in the
open scope (partner users see their own partner's figures). Figures are minor units; the
tables turn them into decimals, the charts get minor units and format them in the browser.
Revenue and VAT are net of credit notes, as the ledger books them, so a report over a period
equals the ledger's revenue and VAT accounts over the same period."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db.models import Case, CharField, Count, F, IntegerField, Q, Sum, Value, When
from django.db.models.functions import Coalesce, TruncMonth

from ispbill.core.errors import DomainValidationError
from ispbill.core.periods import add_months
from ispbill.customers.models import Customer, CustomerStatus
from ispbill.dataio.exports import ExportTable, decimal_amount, export_csv
from ispbill.invoicing.models import (
    CreditNote,
    CreditNoteTax,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    InvoiceTax,
)
from ispbill.partners.models import CommissionAccrual, Partner
from ispbill.subscriptions.models import Service, ServiceStatus

REPORTS: dict[str, str] = {
    "revenue": "Revenue per partner and month (net)",
    "vat": "VAT per rate and month",
    "aging": "Receivables aging",
    "commissions": "Commissions per partner and month",
    "customers": "Customers per status and tariff",
    "aggregated": "Aggregated invoices per partner and month",
}
AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
AGING_LABELS = ("Current (not yet due)", "1–30 days", "31–60 days", "61–90 days", "Over 90 days")
PALETTE = ("#1d5fd1", "#12a17a", "#e07b00", "#8e44ad", "#d12d5f", "#2a9fd6", "#6b7a8f")


@dataclass
class Report:
    key: str
    title: str
    start: date
    end: date
    columns: list[str]
    rows: list[list[Any]]  # minor-unit amounts in columns named in ``money``
    money: frozenset[str] = frozenset()
    currency_column: str = "currency"
    chart: dict[str, Any] = field(default_factory=dict)

    def display_rows(self) -> list[list[Any]]:
        """Rows with amounts as decimals of their currency."""
        money_at = [i for i, c in enumerate(self.columns) if c in self.money]
        cur_at = (
            self.columns.index(self.currency_column)
            if self.currency_column in self.columns
            else None
        )
        out = []
        for row in self.rows:
            shown = list(row)
            currency = row[cur_at] if cur_at is not None else "EUR"
            for i in money_at:
                shown[i] = decimal_amount(int(row[i]), currency)
            out.append(shown)
        return out


def _month(value: Any) -> date:
    value = value.date() if hasattr(value, "date") else value
    return date(value.year, value.month, 1)


def report_months(start: date, end: date) -> list[date]:
    months = []
    current = date(start.year, start.month, 1)
    while current <= end:
        months.append(current)
        current = add_months(current, 1)
    return months


def _names() -> dict[int, str]:
    return dict(Partner.objects.values_list("pk", "name"))


# The partner a document belongs to in reports: the partner whose account it was billed to
# (aggregated and wholesale invoices), else the customer's partner.
_OWNER = Coalesce(F("customer__account_of_partner__id"), F("partner_id"))


def _series_chart(
    months: list[date], series: dict[str, dict[date, int]], *, stacked: bool = True
) -> dict[str, Any]:
    return {
        "type": "bar",
        "labels": [m.strftime("%b %Y") for m in months],
        "datasets": [
            {
                "label": name,
                "data": [values.get(m, 0) for m in months],
                "backgroundColor": PALETTE[i % len(PALETTE)],
            }
            for i, (name, values) in enumerate(sorted(series.items()))
        ],
        "stacked": stacked,
        "money": True,
    }


def report_revenue(*, start: date, end: date, currency: str) -> Report:
    names = _names()
    totals: dict[tuple[date, int, str], int] = defaultdict(int)
    for model, sign in ((Invoice, 1), (CreditNote, -1)):
        rows = (
            model.objects.filter(issue_date__gte=start, issue_date__lte=end)
            .annotate(month=TruncMonth("issue_date"), owner=_OWNER)
            .values("month", "owner", "currency")
            .annotate(net=Sum("net_minor"))
        )
        for r in rows:
            totals[(_month(r["month"]), r["owner"], r["currency"])] += sign * int(r["net"] or 0)
    out = sorted(
        ([m.strftime("%Y-%m"), names.get(o, "?"), c, v] for (m, o, c), v in totals.items()),
        key=lambda r: (r[0], r[1], r[2]),
    )
    series: dict[str, dict[date, int]] = defaultdict(dict)
    for (m, o, c), v in totals.items():
        if c == currency:
            series[names.get(o, "?")][m] = v
    return Report(
        "revenue",
        REPORTS["revenue"],
        start,
        end,
        ["month", "partner", "currency", "net_revenue"],
        out,
        frozenset({"net_revenue"}),
        chart=_series_chart(report_months(start, end), series),
    )


def report_vat(*, start: date, end: date, currency: str) -> Report:
    totals: dict[tuple[date, int, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for model, doc, parent, sign in (
        (InvoiceTax, Invoice, "invoice", 1),
        (CreditNoteTax, CreditNote, "credit_note", -1),
    ):
        docs = doc.objects.filter(issue_date__gte=start, issue_date__lte=end)
        rows = (
            model.objects.filter(**{f"{parent}__in": docs.values("pk")})
            .annotate(month=TruncMonth(f"{parent}__issue_date"), cur=F(f"{parent}__currency"))
            .values("month", "rate_bp", "category", "cur")
            .annotate(net=Sum("net_minor"), tax=Sum("tax_minor"))
        )
        for r in rows:
            slot = totals[(_month(r["month"]), r["rate_bp"], r["category"], r["cur"])]
            slot[0] += sign * int(r["net"] or 0)
            slot[1] += sign * int(r["tax"] or 0)
    out = [
        [m.strftime("%Y-%m"), f"{rate / 100:.2f}", cat, cur, v[0], v[1]]
        for (m, rate, cat, cur), v in sorted(totals.items())
    ]
    series: dict[str, dict[date, int]] = defaultdict(dict)
    for (m, rate, _cat, cur), v in totals.items():
        if cur == currency:
            label = f"{rate / 100:g} %"
            series[label][m] = series[label].get(m, 0) + v[1]
    return Report(
        "vat",
        REPORTS["vat"],
        start,
        end,
        ["month", "rate_percent", "category", "currency", "net", "vat"],
        out,
        frozenset({"net", "vat"}),
        chart=_series_chart(report_months(start, end), series),
    )


def report_aging(*, on: date, currency: str) -> Report:
    """Open invoices by days past due on ``on``: current, 1–30, 31–60, 61–90, 90+."""
    bucket = Case(
        When(due_date__gte=on, then=Value("current")),
        When(due_date__gte=on - timedelta(days=30), then=Value("1-30")),
        When(due_date__gte=on - timedelta(days=60), then=Value("31-60")),
        When(due_date__gte=on - timedelta(days=90), then=Value("61-90")),
        default=Value("90+"),
        output_field=CharField(),
    )
    rows = (
        Invoice.objects.filter(
            status__in=[InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID], issue_date__lte=on
        )
        .annotate(
            bucket=bucket,
            open=F("total_minor") - F("allocated_minor") - F("credited_minor"),
        )
        .values("bucket", "currency")
        .annotate(n=Count("pk"), amount=Sum("open", output_field=IntegerField()))
    )
    found = {(r["bucket"], r["currency"]): (int(r["n"]), int(r["amount"] or 0)) for r in rows}
    currencies = sorted({c for _, c in found} | {currency})
    out = [
        [label, cur, *found.get((key, cur), (0, 0))]
        for cur in currencies
        for key, label in zip(AGING_BUCKETS, AGING_LABELS, strict=True)
    ]
    return Report(
        "aging",
        REPORTS["aging"],
        on,
        on,
        ["age", "currency", "invoices", "open"],
        out,
        frozenset({"open"}),
        chart={
            "type": "bar",
            "labels": list(AGING_LABELS),
            "datasets": [
                {
                    "label": "Open",
                    "data": [found.get((k, currency), (0, 0))[1] for k in AGING_BUCKETS],
                    "backgroundColor": ["#12a17a", "#e0b100", "#e07b00", "#d1542d", "#a50e0e"],
                }
            ],
            "stacked": False,
            "money": True,
        },
    )


def report_commissions(*, start: date, end: date, currency: str) -> Report:
    names = _names()
    qs = CommissionAccrual.objects.filter(date__gte=start, date__lte=end)
    rows = (
        qs.annotate(month=TruncMonth("date"))
        .values("month", "partner_id", "currency")
        .annotate(
            base=Sum("base_minor"),
            amount=Sum("amount_minor"),
            lines=Count("pk"),
        )
    )
    out = []
    series: dict[str, dict[date, int]] = defaultdict(dict)
    for r in rows:
        m = _month(r["month"])
        name = names.get(r["partner_id"], "?")
        out.append(
            [
                m.strftime("%Y-%m"),
                name,
                r["currency"],
                int(r["lines"]),
                int(r["base"] or 0),
                int(r["amount"] or 0),
            ]
        )
        if r["currency"] == currency:
            series[name][m] = int(r["amount"] or 0)
    out.sort(key=lambda r: (r[0], r[1]))
    return Report(
        "commissions",
        REPORTS["commissions"],
        start,
        end,
        ["month", "partner", "currency", "lines", "base", "commission"],
        out,
        frozenset({"base", "commission"}),
        chart=_series_chart(report_months(start, end), series),
    )


def report_customers(*, on: date) -> Report:
    """Customers per status, and per tariff of their active services (a customer with two
    tariffs counts under each)."""
    statuses = [s.value for s in CustomerStatus]
    totals = dict(Customer.objects.values_list("status").annotate(n=Count("pk")))
    per_tariff: dict[str, dict[str, int]] = defaultdict(dict)
    rows = (
        Service.objects.filter(status=ServiceStatus.ACTIVE, start_date__lte=on)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=on))
        .values("tariff__name", "customer__status")
        .annotate(n=Count("customer_id", distinct=True))
    )
    for r in rows:
        per_tariff[r["tariff__name"]][r["customer__status"]] = int(r["n"])
    out: list[list[Any]] = [
        [name, *(counts.get(s, 0) for s in statuses), sum(counts.values())]
        for name, counts in sorted(per_tariff.items())
    ]
    out.append(
        [
            "All customers",
            *(int(totals.get(s, 0)) for s in statuses),
            sum(int(v) for v in totals.values()),
        ]
    )
    return Report(
        "customers",
        REPORTS["customers"],
        on,
        on,
        ["tariff", *statuses, "total"],
        out,
        chart={
            "type": "bar",
            "labels": [r[0] for r in out[:-1]],
            "datasets": [
                {
                    "label": str(CustomerStatus(s).label),
                    "data": [r[1 + i] for r in out[:-1]],
                    "backgroundColor": PALETTE[i % len(PALETTE)],
                }
                for i, s in enumerate(statuses)
            ],
            "stacked": True,
            "money": False,
        },
    )


def report_aggregated(*, start: date, end: date, currency: str) -> Report:
    names = _names()
    rows = (
        Invoice.objects.filter(
            kind=InvoiceKind.AGGREGATED, issue_date__gte=start, issue_date__lte=end
        )
        .annotate(
            month=TruncMonth("issue_date"),
            owner=_OWNER,
            open=F("total_minor") - F("allocated_minor") - F("credited_minor"),
        )
        .values("month", "owner", "currency")
        .annotate(
            n=Count("pk"),
            net=Sum("net_minor"),
            tax=Sum("tax_minor"),
            total=Sum("total_minor"),
            open_sum=Sum("open", output_field=IntegerField()),
        )
    )
    out = []
    series: dict[str, dict[date, int]] = defaultdict(dict)
    for r in rows:
        m = _month(r["month"])
        name = names.get(r["owner"], "?")
        out.append(
            [
                m.strftime("%Y-%m"),
                name,
                r["currency"],
                int(r["n"]),
                int(r["net"] or 0),
                int(r["tax"] or 0),
                int(r["total"] or 0),
                int(r["open_sum"] or 0),
            ]
        )
        if r["currency"] == currency:
            series[name][m] = int(r["total"] or 0)
    out.sort(key=lambda r: (r[0], r[1]))
    return Report(
        "aggregated",
        REPORTS["aggregated"],
        start,
        end,
        ["month", "partner", "currency", "invoices", "net", "tax", "total", "open"],
        out,
        frozenset({"net", "tax", "total", "open"}),
        chart=_series_chart(report_months(start, end), series, stacked=False),
    )


def report_build(*, key: str, start: date, end: date, currency: str) -> Report:
    """One report over [start, end]; aging and customers are taken on ``end``."""
    if key == "revenue":
        return report_revenue(start=start, end=end, currency=currency)
    if key == "vat":
        return report_vat(start=start, end=end, currency=currency)
    if key == "aging":
        return report_aging(on=end, currency=currency)
    if key == "commissions":
        return report_commissions(start=start, end=end, currency=currency)
    if key == "customers":
        return report_customers(on=end)
    if key == "aggregated":
        return report_aggregated(start=start, end=end, currency=currency)
    raise DomainValidationError.for_fields(
        {"report": f"Unknown report {key!r}; choose one of {', '.join(REPORTS)}."}
    )


def report_csv(report: Report) -> str:
    table = ExportTable(
        report.key, report.start, report.end, report.columns, report.money, report.display_rows()
    )
    return export_csv(table)
