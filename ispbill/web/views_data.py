"""Data in and out: customer import, bank statement import and the queue of unmatched lines,
accounting exports, reports with charts. Presentation only: each view parses input, calls one
service of ispbill.dataio, and presents."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from ispbill.accounts.permissions import require_capability
from ispbill.core.errors import DomainError
from ispbill.core.money import Money
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.customers.models import Customer
from ispbill.customers.selectors import account_issuer
from ispbill.dataio.bank_files import BankFileError, CsvBankFormat, bank_file_parse
from ispbill.dataio.customer_import import COLUMNS, customers_import, customers_template_csv
from ispbill.dataio.exports import EXPORT_KINDS, ExportError, export_render, export_table
from ispbill.dataio.models import UnmatchedBankLine, UnmatchedStatus
from ispbill.dataio.payment_import import (
    BankImportError,
    bank_lines_import,
    issuer_customers,
    unmatched_line_assign,
)
from ispbill.dataio.reports import (
    PALETTE,
    REPORTS,
    Report,
    report_build,
    report_csv,
    report_months,
)
from ispbill.partners.models import Partner, PartnerMode
from ispbill.radius.usage import GB
from ispbill.radius.usage_stats import usage_per_partner
from ispbill.web.forms.fields import today
from ispbill.web.panel import access_of, actor, page, paginate, panel_currency, panel_partner

MAX_UPLOAD = 50 * 1024 * 1024


def _first_of_month(day: date) -> date:
    return date(day.year, day.month, 1)


class PeriodForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise forms.ValidationError("The period ends before it starts.")
        return data


def _period(request: HttpRequest, *, months_back: int) -> tuple[PeriodForm, date, date]:
    now = today()
    start_default = _first_of_month(now)
    for _ in range(months_back):
        start_default = _first_of_month(date.fromordinal(start_default.toordinal() - 1))
    form = PeriodForm(request.GET or {"start": start_default, "end": now})
    if form.is_valid():
        return form, form.cleaned_data["start"], form.cleaned_data["end"]
    return form, start_default, now


# -- customer import ------------------------------------------------------------------------


class CustomerImportForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="UTF-8, comma or semicolon separated")
    partner = forms.ModelChoiceField(
        queryset=Partner.objects.none(),
        required=False,
        empty_label="As the partner column says (empty: home partner)",
        help_text="Import every row into this partner",
    )
    dry_run = forms.BooleanField(
        required=False, initial=True, label="Dry run: check and preview, write nothing"
    )

    def __init__(self, *args: Any, operator: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if operator:
            self.fields["partner"].queryset = Partner.objects.filter(is_active=True)  # type: ignore[attr-defined]
        else:
            del self.fields["partner"]


@require_capability("customers.write")
def customers_import_view(request: HttpRequest) -> HttpResponse:
    operator = access_of(request).is_operator
    form = CustomerImportForm(request.POST or None, request.FILES or None, operator=operator)
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_UPLOAD:
            form.add_error("file", "The file is larger than 50 MB; split it.")
        else:
            raw = upload.read()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            partner = panel_partner(request) if not operator else form.cleaned_data["partner"]
            result = customers_import(
                csv_text=text,
                partner=partner,
                dry_run=form.cleaned_data["dry_run"],
                **actor(request),
            )
            if not result.errors and not result.dry_run:
                messages.success(
                    request,
                    f"Imported {result.customers_created} customers and "
                    f"{result.services_created} services.",
                )
                return redirect("web:customers")
    context = {
        "form": form,
        "result": result,
        "preview": result.planned[:50] if result else [],
        "columns": COLUMNS,
    }
    return page(request, "web/data/customers_import.html", context, "data_import")


@require_capability("customers.write")
def customers_template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(customers_template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="ispbill-customers-template.csv"'
    return response


# -- bank statements ------------------------------------------------------------------------


class PaymentImportForm(forms.Form):
    file = forms.FileField(label="Statement file", help_text="camt.053 XML or CSV")
    issuer = forms.ModelChoiceField(
        queryset=Partner.objects.none(),
        required=False,
        empty_label="The operator's bank account",
        label="Bank account of",
    )
    columns = forms.CharField(
        required=False,
        label="CSV columns",
        help_text="field=Column, ...: date, amount, currency, reference, remittance, "
        "counterparty, iban (defaults: the field names)",
    )
    date_format = forms.CharField(initial="%Y-%m-%d", label="CSV date format")
    decimal_comma = forms.BooleanField(required=False, label="CSV amounts as 1.234,56")

    def __init__(self, *args: Any, operator: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if operator:
            self.fields["issuer"].queryset = Partner.objects.filter(  # type: ignore[attr-defined]
                mode=PartnerMode.OWN_INVOICING
            )
        else:
            del self.fields["issuer"]


def _issuer(request: HttpRequest, chosen: Partner | None) -> Partner:
    partner = panel_partner(request)
    if partner is not None:
        return partner
    return chosen or Partner.objects.get(is_home=True)


@require_capability("finance.write")
def payments_import_view(request: HttpRequest) -> HttpResponse:
    operator = access_of(request).is_operator
    form = PaymentImportForm(request.POST or None, request.FILES or None, operator=operator)
    result = None
    parsed = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        issuer = _issuer(request, form.cleaned_data.get("issuer"))
        try:
            fmt = CsvBankFormat.from_mapping(
                form.cleaned_data["columns"],
                date_format=form.cleaned_data["date_format"],
                decimal_comma=form.cleaned_data["decimal_comma"],
                default_currency=issuer.currency,
            )
            if upload.size > MAX_UPLOAD:
                raise BankFileError("The file is larger than 50 MB.")
            parsed = bank_file_parse(upload.read(), csv_format=fmt)
        except BankFileError as exc:
            form.add_error("file", str(exc))
        else:
            result = bank_lines_import(
                lines=parsed.lines, issuer=issuer, source=upload.name, **actor(request)
            )
            messages.success(request, f"{upload.name}: {result.summary()}.")
    context = {"form": form, "result": result, "parsed": parsed}
    return page(request, "web/data/payments_import.html", context, "data_import")


@require_capability("finance.read")
def bank_lines(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", UnmatchedStatus.OPEN)
    qs = UnmatchedBankLine.objects.all()
    if status in UnmatchedStatus.values:
        qs = qs.filter(status=status)
    context = {
        "page": paginate(request, qs.order_by("-booking_date", "-id")),
        "status": status,
        "statuses": UnmatchedStatus.choices,
    }
    return page(request, "web/data/bank_lines.html", context, "bank_lines")


@require_capability("finance.write")
@require_POST
def bank_line_assign(request: HttpRequest, line_id: int) -> HttpResponse:
    line = get_scoped_or_404(UnmatchedBankLine, for_write=True, pk=line_id)
    text = request.POST.get("customer", "").strip()
    candidates = Customer.objects.filter(issuer_customers(line.partner))
    if text.startswith("#") and text[1:].isdigit():
        candidates = candidates.filter(pk=int(text[1:]))
    else:
        candidates = candidates.filter(Q(reference=text))
    found = list(candidates[:3]) if text else []
    amount_text = request.POST.get("amount", "").strip()
    try:
        if len(found) != 1:
            raise BankImportError(
                "Enter the customer number of the account that paid"
                if not found
                else f"{text} names several customers; write #id (the customer's id) instead"
            )
        currency = account_issuer(found[0]).currency
        amount = Money.parse(amount_text, currency) if amount_text else None
        payment = unmatched_line_assign(
            line=line, customer=found[0], amount=amount, **actor(request)
        )
    except DomainError as exc:
        messages.error(request, f"Line {line.reference}: {exc}")
    else:
        messages.success(
            request, f"Line {line.reference} booked as a payment of {payment.customer.name}."
        )
    return redirect("web:bank_lines")


# -- exports and reports --------------------------------------------------------------------


@require_capability("finance.read")
def exports_view(request: HttpRequest) -> HttpResponse:
    form, start, end = _period(request, months_back=1)
    kind = request.GET.get("kind", "")
    fmt = request.GET.get("format", "csv")
    if kind and form.is_valid():
        try:
            table = export_table(kind=kind, start=start, end=end)
            data = export_render(table, fmt)
        except ExportError as exc:
            messages.error(request, str(exc))
        else:
            content_type = (
                "text/csv; charset=utf-8"
                if fmt == "csv"
                else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            )
            response = HttpResponse(data, content_type=content_type)
            response["Content-Disposition"] = f'attachment; filename="{table.filename(fmt)}"'
            return response
    context = {"form": form, "kinds": EXPORT_KINDS, "start": start, "end": end}
    return page(request, "web/data/exports.html", context, "exports")


USAGE_REPORT = "usage"
USAGE_COLUMNS = [
    "month",
    "partner",
    "services",
    "upload_bytes",
    "download_bytes",
    "total_bytes",
    "total_gb",
]


def _usage_report(*, start: date, end: date) -> Report:
    """Traffic per partner and month (RADIUS accounting, docs/usage.md): bytes in the table
    and CSV, GB in the chart. Partner users see their own partner's row (the scope)."""
    rows = usage_per_partner(start=start, end=end)
    months = report_months(start, end)
    series: dict[str, dict[date, float]] = {}
    for r in rows:
        series.setdefault(r["partner_name"], {})[r["month"]] = round(r["total_bytes"] / GB, 2)
    return Report(
        USAGE_REPORT,
        "Traffic per partner and month (GB in the chart)",
        start,
        end,
        USAGE_COLUMNS,
        [
            [
                r["month"].strftime("%Y-%m"),
                r["partner_name"],
                r["services"],
                r["upload_bytes"],
                r["download_bytes"],
                r["total_bytes"],
                f"{r['total_bytes'] / GB:.2f}",
            ]
            for r in rows
        ],
        chart={
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
            "stacked": True,
            "money": False,
        },
    )


def _report(*, key: str, start: date, end: date, currency: str) -> Report:
    if key == USAGE_REPORT:
        return _usage_report(start=start, end=end)
    return report_build(key=key, start=start, end=end, currency=currency)


@require_capability("finance.read")
def reports_view(request: HttpRequest) -> HttpResponse:
    form, start, end = _period(request, months_back=5)
    currency = panel_currency(request)
    wanted = request.GET.get("csv", "")
    keys = [k for k in REPORTS if k != "commissions" or _sees_commissions(request)]
    keys.append(USAGE_REPORT)
    if wanted:
        if wanted not in keys:
            messages.error(request, f"There is no report {wanted!r}.")
        else:
            report = _report(key=wanted, start=start, end=end, currency=currency)
            response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
            name = f"ispbill-report-{wanted}-{start.isoformat()}-{end.isoformat()}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
    reports = [_report(key=k, start=start, end=end, currency=currency) for k in keys]
    charts = {r.key: r.chart for r in reports}
    context = {
        "form": form,
        "reports": reports,
        "charts": {"currency": currency, "charts": charts},
        "currency": currency,
        "query": request.GET.urlencode(),
    }
    return page(request, "web/data/reports.html", context, "reports")


def _sees_commissions(request: HttpRequest) -> bool:
    access = access_of(request)
    return access.can("commission.read")
