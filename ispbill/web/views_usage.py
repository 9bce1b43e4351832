"""Top users: the services with most traffic in a period (docs/usage.md, "Seeing it").

The operator sees every partner's services, a partner's users their own partner's only (the
request's scope); the list pages, searches and exports as CSV like the other lists."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse

from ispbill.accounts.permissions import require_capability
from ispbill.dataio.exports import ExportTable, export_csv
from ispbill.partners.models import Partner
from ispbill.radius.usage_stats import TOP_COLUMNS, top_details, top_row, usage_top
from ispbill.web.forms.fields import today
from ispbill.web.panel import access_of, page, paginate

MAX_DAYS = 366  # a period of at most a year: the list groups every day of it


class TopUsersForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(
        label="Search", required=False, max_length=100, help_text="Customer, number or login"
    )
    partner = forms.TypedChoiceField(label="Partner", required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, partners: list[Partner], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["partner"]
        if partners and isinstance(field, forms.ChoiceField):
            field.choices = [("", "All partners")] + [(p.pk, p.name) for p in partners]
        else:
            del self.fields["partner"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            raise forms.ValidationError("The period ends before it starts.")
        if start and end and (end - start).days >= MAX_DAYS:
            raise forms.ValidationError("Choose a period of at most a year.")
        return data


@require_capability("customers.read")
def usage_top_view(request: HttpRequest) -> HttpResponse:
    now = today()
    start_default = date(now.year, now.month, 1)
    operator = access_of(request).is_operator
    partners = list(Partner.objects.order_by("name")) if operator else []
    data = request.GET.copy()
    data.setdefault("start", start_default.isoformat())
    data.setdefault("end", now.isoformat())
    form = TopUsersForm(data, partners=partners)
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        q = form.cleaned_data["q"].strip()
        partner_id = form.cleaned_data.get("partner")
    else:
        start, end, q, partner_id = start_default, now, "", None
    rows = usage_top(start=start, end=end, q=q, partner_id=partner_id)
    if request.GET.get("csv") and form.is_valid():
        lines = [top_row(r) for r in top_details(rows)]
        table = ExportTable("top_users", start, end, TOP_COLUMNS, frozenset(), lines)
        response = HttpResponse(export_csv(table), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{table.filename("csv")}"'
        return response
    shown = paginate(request, rows)
    shown.object_list = top_details(shown.object_list)
    context = {
        "form": form,
        "page": shown,
        "start": start,
        "end": end,
        "days": (end - start + timedelta(days=1)).days,
        "query": request.GET.urlencode(),
        "show_partner": bool(partners),
    }
    return page(request, "web/usage/top.html", context, "usage_top")
