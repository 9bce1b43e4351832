"""Accounting exports for DATEV: one issuer's month as a Buchungsstapel (EXTF CSV,
Windows-1252) and the issuer's DATEV settings (docs/data-import-export.md, "DATEV"). The
operator exports every issuer's books; a partner only its own."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from ispbill.api.context import actor
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard
from ispbill.api.schemas import InSchema
from ispbill.dataio.datev import (
    ACCOUNT_FIELDS,
    CHART_DEFAULTS,
    account_of,
    datev_export,
    datev_issuer,
    datev_issuers,
    datev_settings_for,
    datev_settings_save,
)
from ispbill.dataio.models import DatevSettings

router = Router(tags=["exports"])


class DatevQuery(Schema):
    issuer: int | None = Field(
        None,
        description="Partner id of the issuer (the home partner or an own-invoicing partner); "
        "may be left out when the caller sees one issuer only",
    )
    month: str = Field(..., description="YYYY-MM", examples=["2026-03"])


class IssuerQuery(Schema):
    issuer: int | None = Field(None, description="Partner id of the issuer")


class DatevSettingsIn(InSchema):
    consultant_number: int = Field(1001, description="Beraternummer, 1001–9999999")
    client_number: int = Field(1, description="Mandantennummer, 1–99999")
    fiscal_year_start_month: int = Field(1, ge=1, le=12)
    account_length: int = Field(4, description="Sachkontenlänge, 4–8")
    chart: Literal["03", "04"] = Field("03", description="SKR 03 or SKR 04")
    automatic_accounts: bool = Field(
        True, description="Revenue accounts are automatic accounts (false: BU keys written)"
    )
    revenue_account_standard: int | None = Field(None, description="19 %; empty: the chart's")
    revenue_account_reduced: int | None = Field(None, description="7 %; empty: the chart's")
    revenue_account_eu: int | None = Field(None, description="0 %, reverse charge / EU")
    revenue_account_exempt: int | None = Field(None, description="0 %, other")
    bank_account: int | None = None
    cash_account: int | None = None
    transit_account: int | None = Field(None, description="Card and other payments")
    debitor_numbering: Literal["reference", "id", "single"] = "id"
    debitor_start: int = 10000
    label: str = Field("", max_length=30, description="Bezeichnung; empty: ispbill YYYY-MM")


class DatevSettingsOut(DatevSettingsIn):
    issuer: int
    issuer_name: str
    saved: bool = Field(..., description="False: the defaults, nothing saved yet")
    accounts: dict[str, int] = Field(..., description="The accounts used (defaults filled in)")


class DatevIssuerOut(Schema):
    id: int
    name: str


def _settings_out(s: DatevSettings) -> dict[str, Any]:
    out = {name: getattr(s, name) for name in DatevSettingsIn.model_fields}
    out.update(
        issuer=s.partner_id,
        issuer_name=s.partner.name,
        saved=s.pk is not None,
        accounts={name: account_of(s, name) for name in CHART_DEFAULTS[s.chart]},
    )
    return out


@router.get("/exports/datev/issuers", response={200: list[DatevIssuerOut], **ERROR_RESPONSES})
@guard("finance.read")
def datev_issuer_list(request: HttpRequest) -> Any:
    """The issuers whose books the caller may export (a partner: itself, if it invoices)."""
    return [{"id": p.pk, "name": p.name} for p in datev_issuers()]


@router.get(
    "/exports/datev",
    response=ERROR_RESPONSES,
    openapi_extra={
        "responses": {
            "200": {
                "description": "The Buchungsstapel (EXTF, Windows-1252, ';')",
                "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
@guard("finance.read")
def datev_export_file(request: HttpRequest, query: Query[DatevQuery]) -> HttpResponse:
    """One issuer's month as a DATEV Buchungsstapel: invoices and credit notes per tax rate
    against the revenue accounts, payments and refunds against the money accounts. 422 for
    a bad month or an issuer whose books the caller may not export."""
    result = datev_export(issuer_id=query.issuer, month=query.month)
    response = HttpResponse(result.data, content_type="text/csv; charset=windows-1252")
    response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    response["X-Bookings"] = str(len(result.bookings))
    return response


@router.get("/exports/datev/settings", response={200: DatevSettingsOut, **ERROR_RESPONSES})
@guard("finance.read")
def datev_settings_read(request: HttpRequest, query: Query[IssuerQuery]) -> Any:
    """The issuer's DATEV settings (the defaults when none are saved)."""
    return _settings_out(datev_settings_for(datev_issuer(query.issuer)))


@router.put("/exports/datev/settings", response={200: DatevSettingsOut, **ERROR_RESPONSES})
@guard("finance.write")
def datev_settings_change(
    request: HttpRequest, query: Query[IssuerQuery], payload: DatevSettingsIn
) -> Any:
    """Save the issuer's DATEV settings (every field; empty accounts: the chart's)."""
    issuer = datev_issuer(query.issuer)
    saved = datev_settings_save(issuer=issuer, actor=actor(request), **payload.model_dump())
    return _settings_out(saved)


assert set(ACCOUNT_FIELDS) <= set(DatevSettingsIn.model_fields)
