"""Figures of the dashboard, read in the request's scope (partner users see their own)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, F, Sum
from django.db.models.functions import TruncMonth

from ispbill.core.periods import add_months
from ispbill.customers.models import Customer, CustomerStatus
from ispbill.invoicing.models import Invoice, InvoiceStatus
from ispbill.partners.models import CommissionAccrual, CommissionStatement, Partner

AGE_BUCKETS = ("Not yet due", "1–30 days", "31–60 days", "61–90 days", "Over 90 days")


@dataclass
class Dashboard:
    currency: str
    months: list[str] = field(default_factory=list)
    revenue: dict[str, list[int]] = field(default_factory=dict)  # partner -> net per month
    receivables: list[int] = field(default_factory=list)  # open amount per age bucket
    receivables_count: list[int] = field(default_factory=list)
    commissions: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[tuple[str, str, int]] = field(default_factory=list)
    open_total: int = 0
    overdue_total: int = 0
    month_revenue: int = 0
    month_label: str = ""
    customers_active: int = 0

    def revenue_rows(self) -> list[tuple[str, list[int], int]]:
        return [(name, values, sum(values)) for name, values in self.revenue.items()]

    def month_totals(self) -> list[int]:
        return [sum(values[i] for values in self.revenue.values()) for i in range(len(self.months))]

    def receivable_rows(self) -> list[tuple[str, int, int]]:
        return list(zip(AGE_BUCKETS, self.receivables_count, self.receivables, strict=True))

    def chart_data(self) -> dict[str, Any]:
        return {
            "months": self.months,
            "revenue": [{"label": k, "data": v} for k, v in self.revenue.items()],
            "ages": list(AGE_BUCKETS),
            "receivables": self.receivables,
            "commissions": {
                "labels": [c["partner"] for c in self.commissions],
                "accrued": [c["accrued"] for c in self.commissions],
                "approved": [c["approved"] for c in self.commissions],
            },
            "statuses": {
                "labels": [label for _, label, _ in self.statuses],
                "data": [n for _, _, n in self.statuses],
            },
            "currency": self.currency,
        }


def dashboard_figures(*, today: date, currency: str, months: int = 6) -> Dashboard:
    board = Dashboard(currency=currency)
    # The months up to the latest invoice: a quiet install still shows its last activity.
    latest = Invoice.objects.filter(issue_date__lte=today).order_by("-issue_date").first()
    anchor = latest.issue_date if latest is not None else today
    first = add_months(date(anchor.year, anchor.month, 1), -(months - 1))
    month_keys = [add_months(first, i) for i in range(months)]
    board.months = [m.strftime("%b %Y") for m in month_keys]
    account_owner = dict(
        Partner.objects.filter(account__isnull=False).values_list("account_id", "name")
    )
    names = dict(Partner.objects.values_list("pk", "name"))
    revenue: dict[str, list[int]] = defaultdict(lambda: [0] * months)
    rows = (
        Invoice.objects.filter(issue_date__gte=first, currency=currency)
        .annotate(month=TruncMonth("issue_date"))
        .values("month", "partner_id", "customer_id")
        .annotate(net=Sum("net_minor"))
    )
    for row in rows:
        month = row["month"]
        month = month.date() if hasattr(month, "date") else month
        index = (month.year - first.year) * 12 + month.month - first.month
        if 0 <= index < months:
            name = account_owner.get(row["customer_id"]) or names.get(row["partner_id"], "?")
            revenue[name][index] += int(row["net"] or 0)
    board.revenue = dict(sorted(revenue.items()))
    board.month_revenue = sum(v[-1] for v in revenue.values())
    board.month_label = board.months[-1]

    board.receivables = [0] * len(AGE_BUCKETS)
    board.receivables_count = [0] * len(AGE_BUCKETS)
    open_rows = Invoice.objects.filter(
        status__in=[InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID], currency=currency
    ).values_list("due_date", "total_minor", "allocated_minor", "credited_minor")
    for due, total, allocated, credited in open_rows:
        amount = total - allocated - credited
        late = (today - due).days
        bucket = (
            0 if late <= 0 else 1 if late <= 30 else 2 if late <= 60 else 3 if late <= 90 else 4
        )
        board.receivables[bucket] += amount
        board.receivables_count[bucket] += 1
        board.open_total += amount
        if late > 0:
            board.overdue_total += amount

    commissions: dict[int, dict[str, Any]] = {}

    def slot(partner_id: int) -> dict[str, Any]:
        return commissions.setdefault(
            partner_id,
            {"partner": names.get(partner_id, "?"), "accrued": 0, "draft": 0, "approved": 0},
        )

    for pid, total in (
        CommissionAccrual.objects.filter(statement__isnull=True, currency=currency)
        .values_list("partner_id")
        .annotate(s=Sum("amount_minor"))
    ):
        slot(pid)["accrued"] += int(total or 0)
    for pid, status, total in (
        CommissionStatement.objects.filter(currency=currency, status__in=["draft", "approved"])
        .values_list("partner_id", "status")
        .annotate(s=Sum("total_minor"))
    ):
        slot(pid)[status] += int(total or 0)
    board.commissions = sorted(commissions.values(), key=lambda c: c["partner"])

    counts = dict(Customer.objects.values_list("status").annotate(n=Count("pk")))
    board.statuses = [(s.value, str(s.label), counts.get(s.value, 0)) for s in CustomerStatus]
    board.customers_active = counts.get(CustomerStatus.ACTIVE, 0)
    return board


def overdue_invoices(*, today: date) -> Any:
    return (
        Invoice.objects.filter(
            status__in=[InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID], due_date__lt=today
        )
        .select_related("customer", "customer__partner")
        .annotate(open=F("total_minor") - F("allocated_minor") - F("credited_minor"))
        .order_by("due_date", "pk")
    )


def blocking_date(due: date, blocking_days: int | None) -> date | None:
    if blocking_days is None:
        return None
    return due + timedelta(days=blocking_days + 1)
