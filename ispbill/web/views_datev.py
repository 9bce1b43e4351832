"""DATEV pages: download one issuer's month as a Buchungsstapel, and the issuer's DATEV
settings (docs/data-import-export.md, "DATEV"). The operator chooses among every issuer;
a partner sees only its own books (an own-invoicing partner) or none."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from ispbill.accounts.permissions import require_capability
from ispbill.dataio.datev import (
    CHART_DEFAULTS,
    SETTINGS_FIELDS,
    account_of,
    datev_export,
    datev_issuer,
    datev_issuers,
    datev_settings_for,
    datev_settings_save,
)
from ispbill.dataio.exports import ExportError
from ispbill.dataio.models import DatevSettings
from ispbill.web.forms.fields import REFUSED, errors_to_form, today
from ispbill.web.panel import actor, page


class DatevExportForm(forms.Form):
    issuer = forms.TypedChoiceField(coerce=int, label="Issuer (whose books)")
    month = forms.RegexField(
        regex=r"^\d{4}-\d{2}$",
        label="Month",
        help_text="YYYY-MM",
        widget=forms.TextInput(attrs={"type": "month"}),
        error_messages={"invalid": "Give the month as YYYY-MM."},
    )

    def __init__(self, *args: Any, issuers: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["issuer"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(p.pk, p.name) for p in issuers]


class DatevSettingsForm(forms.ModelForm):
    class Meta:
        model = DatevSettings
        fields = list(SETTINGS_FIELDS)
        labels = {
            "consultant_number": "Beraternummer",
            "client_number": "Mandantennummer",
            "fiscal_year_start_month": "Fiscal year begins in month",
            "account_length": "Sachkontenlänge",
            "chart": "Chart of accounts",
            "revenue_account_standard": "Revenue account 19 %",
            "revenue_account_reduced": "Revenue account 7 %",
            "revenue_account_eu": "Revenue account 0 % (reverse charge / EU)",
            "revenue_account_exempt": "Revenue account 0 % (other)",
            "bank_account": "Bank account (transfers, direct debits)",
            "cash_account": "Cash account",
            "transit_account": "Transit account (card, other)",
            "label": "Bezeichnung",
        }

    def __init__(self, *args: Any, chart: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, default in CHART_DEFAULTS[chart].items():
            self.fields[name].help_text = f"Empty: {default} (the chart's default)"


@require_capability("finance.read")
def datev_view(request: HttpRequest) -> HttpResponse:
    issuers = datev_issuers()
    initial = {"month": today().replace(day=1).isoformat()[:7]}
    form = DatevExportForm(request.GET or None, issuers=issuers, initial=initial)
    if request.GET and form.is_valid():
        try:
            result = datev_export(
                issuer_id=form.cleaned_data["issuer"], month=form.cleaned_data["month"]
            )
        except ExportError as exc:
            errors_to_form(form, exc)
        else:
            response = HttpResponse(result.data, content_type="text/csv; charset=windows-1252")
            response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
            return response
    context = {"form": form, "issuers": issuers}
    return page(request, "web/data/datev.html", context, "exports")


@require_capability("finance.write")
def datev_settings_view(request: HttpRequest) -> HttpResponse:
    try:
        issuer = datev_issuer(request.GET.get("issuer"))
    except ExportError as exc:
        messages.error(request, str(exc))
        return redirect("web:datev")
    current = datev_settings_for(issuer)
    chart = request.POST.get("chart") or current.chart
    chart = chart if chart in CHART_DEFAULTS else current.chart
    form = DatevSettingsForm(request.POST or None, instance=current, chart=chart)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in SETTINGS_FIELDS}
        try:
            datev_settings_save(issuer=issuer, **data, **actor(request))
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, f"DATEV settings of {issuer.name} saved.")
            return redirect(reverse("web:datev_settings") + f"?issuer={issuer.pk}")
    accounts = {name: account_of(current, name) for name in CHART_DEFAULTS[current.chart]}
    context = {"form": form, "issuer": issuer, "current": current, "accounts": accounts}
    return page(request, "web/data/datev_settings.html", context, "exports")
