"""SEPA direct debit: creditor settings, mandates, collection batches (create, pain.008
file, submitted, collected, discard) and returns import (docs/payments.md)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, File, Query, Router, Schema
from ninja.files import UploadedFile

from ispbill.api.context import actor
from ispbill.api.customer_services import customer_for_write
from ispbill.api.errors import ERROR_RESPONSES
from ispbill.api.guard import guard, resolved
from ispbill.api.idempotency import idempotency_openapi, idempotent
from ispbill.api.schemas import (
    AmountText,
    Day,
    Id,
    InSchema,
    ListParams,
    MoneyOut,
    Page,
    Str11,
    Str40,
    Str200,
    money_out,
    ordered,
    page,
    printable,
)
from ispbill.catalog.models import TaxRate
from ispbill.core.errors import DomainValidationError
from ispbill.core.money import Money
from ispbill.core.tenancy import current_partner_ids
from ispbill.partners.models import Partner
from ispbill.sepa.collection import (
    collection_collect,
    collection_discard,
    collection_plan,
    collection_run,
    collection_submit,
)
from ispbill.sepa.mandates import (
    creditor_settings_save,
    mandate_create,
    mandate_final_set,
    mandate_revoke,
)
from ispbill.sepa.models import (
    Collection,
    CreditorSettings,
    Debit,
    DebitInvoice,
    DebitReturn,
    Mandate,
    MandateSource,
)
from ispbill.sepa.returns import returns_file_import
from ispbill.sepa.rules import iban_masked

router = Router(tags=["direct debit"])

Text2000 = Annotated[str, printable(2000)]


def _issuer(request: HttpRequest, partner_id: int | None) -> Partner:
    """The issuer an operation acts for: the caller's own partner, or (operator) the one named,
    by default the home partner."""
    partners = current_partner_ids()
    if partners is None:
        if partner_id is None:
            return Partner.objects.get(is_home=True)
        found = Partner.objects.filter(pk=partner_id).first()
        if found is None:
            raise DomainValidationError.for_fields({"partner_id": "no such partner"})
        return found
    if partner_id is not None and partner_id not in partners:
        raise DomainValidationError.for_fields({"partner_id": "not your partner"})
    return Partner.objects.get(pk=partners[0])


# --- creditor settings ---------------------------------------------------------------------


class CreditorSettingsIn(InSchema):
    partner_id: Id | None = Field(None, description="Operator only; default the home partner")
    enabled: bool = True
    creditor_id: Str40 = Field(..., description="SEPA creditor identifier, e.g. DE98ZZZ09999999999")
    creditor_name: Str200 = Field("", description="Default: the issuer's legal name (≤ 70)")
    iban: Str40
    bic: Str11 = ""
    notice_days: int = Field(14, ge=0, le=60)
    return_fee: AmountText = Field("0", description='Decimal string, "3.00"; 0 for none')
    return_fee_tax_rate_id: Id | None = None
    mandate_text: Text2000 = ""


class CreditorSettingsOut(Schema):
    partner_id: int
    enabled: bool
    creditor_id: str
    creditor_name: str
    iban: str
    bic: str
    notice_days: int
    return_fee: MoneyOut
    return_fee_tax_rate_id: int | None
    mandate_text: str


def _settings_out(s: CreditorSettings) -> dict[str, Any]:
    return {
        "partner_id": s.partner_id,
        "enabled": s.enabled,
        "creditor_id": s.creditor_id,
        "creditor_name": s.creditor_name,
        "iban": s.iban,
        "bic": s.bic,
        "notice_days": s.notice_days,
        "return_fee": money_out(s.return_fee_minor, "EUR"),
        "return_fee_tax_rate_id": s.return_fee_tax_rate_id,
        "mandate_text": s.mandate_text,
    }


@router.get("/sepa/creditor", response={200: CreditorSettingsOut, **ERROR_RESPONSES})
@guard("issuer.manage")
def creditor_read(request: HttpRequest, partner_id: Id | None = None) -> Any:
    """The issuer's creditor settings (404 when it has none)."""
    issuer = _issuer(request, partner_id)
    settings = CreditorSettings.objects.filter(partner=issuer).first()
    if settings is None:
        raise Http404("No creditor settings yet.")
    return _settings_out(settings)


@router.put("/sepa/creditor", response={200: CreditorSettingsOut, **ERROR_RESPONSES})
@guard("issuer.manage")
def creditor_write(request: HttpRequest, payload: CreditorSettingsIn) -> Any:
    """Create or change the issuer's creditor settings (audited)."""
    issuer = _issuer(request, payload.partner_id)
    try:
        fee = Money.parse(payload.return_fee, issuer.currency).minor
    except (ValueError, ArithmeticError) as exc:
        raise DomainValidationError.for_fields({"return_fee": str(exc)}) from exc
    rate = None
    if payload.return_fee_tax_rate_id is not None:
        rate = TaxRate.objects.filter(pk=payload.return_fee_tax_rate_id, partner=issuer).first()
        if rate is None:
            raise DomainValidationError.for_fields(
                {"return_fee_tax_rate_id": "no such tax rate of the issuer"}
            )
    settings = creditor_settings_save(
        partner=issuer,
        enabled=payload.enabled,
        creditor_id=payload.creditor_id,
        creditor_name=payload.creditor_name,
        iban=payload.iban,
        bic=payload.bic,
        notice_days=payload.notice_days,
        return_fee_minor=fee,
        return_fee_tax_rate=rate,
        mandate_text=payload.mandate_text,
        actor=actor(request),
    )
    return _settings_out(settings)


# --- mandates ------------------------------------------------------------------------------


class MandateIn(InSchema):
    customer_id: Id
    iban: Str40
    bic: Str11 = ""
    signature_date: Day
    reference: Str40 = Field("", description="≤ 35 SEPA characters; default <customer>-<n>")
    debtor_name: Str200 = Field("", description="Account holder; default the customer (≤ 70)")


class MandateOut(Schema):
    id: int
    customer_id: int
    creditor_id: int = Field(..., description="The issuer (partner) that collects")
    reference: str
    signature_date: dt.date
    debtor_name: str
    iban: str = Field(..., description="Masked: DE89 **** **** **** **30 00")
    bic: str
    status: str
    sequence: str = Field(..., description="Type of the next collection: FRST, RCUR, FNAL")
    last_collection_date: dt.date | None
    ended_on: dt.date | None
    end_reason: str
    source: str


def _mandate_out(m: Mandate) -> dict[str, Any]:
    return {
        "id": m.pk,
        "customer_id": m.customer_id,
        "creditor_id": m.creditor_id,
        "reference": m.reference,
        "signature_date": m.signature_date,
        "debtor_name": m.debtor_name,
        "iban": iban_masked(m.iban),
        "bic": m.bic,
        "status": m.status,
        "sequence": m.sequence,
        "last_collection_date": m.last_collection_date,
        "ended_on": m.ended_on,
        "end_reason": m.end_reason,
        "source": m.source,
    }


class MandateFilters(ListParams):
    customer_id: Id | None = None
    status: Literal["active", "revoked", "expired", "completed"] | None = None
    sort: Literal["id", "-id", "signature_date", "-signature_date"] = "-id"


@router.get("/mandates", response={200: Page[MandateOut], **ERROR_RESPONSES})
@guard("customers.read")
def mandate_list(request: HttpRequest, filters: Query[MandateFilters]) -> Any:
    qs = Mandate.objects.all()
    if filters.customer_id:
        qs = qs.filter(customer_id=filters.customer_id)
    if filters.status:
        qs = qs.filter(status=filters.status)
    return page(ordered(qs, filters.sort), filters, _mandate_out)


@router.post(
    "/mandates", response={201: MandateOut, **ERROR_RESPONSES}, openapi_extra=idempotency_openapi()
)
@guard("customers.write")
@idempotent()
def mandate_create_view(request: HttpRequest, payload: MandateIn) -> Any:
    """Record a signed mandate for the issuer of the customer's invoices."""
    if payload.signature_date > timezone.localdate():
        raise DomainValidationError.for_fields(
            {"signature_date": "A mandate cannot be signed in the future."}
        )
    mandate = mandate_create(
        customer=customer_for_write(payload.customer_id),
        iban=payload.iban,
        bic=payload.bic,
        signature_date=payload.signature_date,
        reference=payload.reference,
        debtor_name=payload.debtor_name,
        source=MandateSource.API,
        actor=actor(request),
    )
    return 201, MandateOut(**_mandate_out(mandate)).model_dump(mode="json")


@router.get("/mandates/{mandate_id}", response={200: MandateOut, **ERROR_RESPONSES})
@guard("customers.read")
def mandate_read(request: HttpRequest, mandate_id: int) -> Any:
    return _mandate_out(resolved(request, "mandate_id"))


class RevokeIn(InSchema):
    reason: Str200 = "revoked by the customer"
    date: Day | None = Field(None, description="Default: today")


@router.post("/mandates/{mandate_id}/revoke", response={200: MandateOut, **ERROR_RESPONSES})
@guard("customers.write")
def mandate_revoke_view(request: HttpRequest, mandate_id: int, payload: RevokeIn) -> Any:
    mandate = mandate_revoke(
        mandate=resolved(request, "mandate_id"),
        on=payload.date or timezone.localdate(),
        reason=payload.reason,
        actor=actor(request),
    )
    return _mandate_out(mandate)


@router.post("/mandates/{mandate_id}/final", response={200: MandateOut, **ERROR_RESPONSES})
@guard("customers.write")
def mandate_final_view(request: HttpRequest, mandate_id: int) -> Any:
    """Make the next collection under a used mandate its last one (FNAL)."""
    mandate = mandate_final_set(mandate=resolved(request, "mandate_id"), actor=actor(request))
    return _mandate_out(mandate)


# --- collections ---------------------------------------------------------------------------


class DebitOut(Schema):
    id: int
    customer_id: int
    mandate_id: int
    mandate_reference: str
    sequence: str
    end_to_end_id: str
    amount: MoneyOut
    status: str
    invoice_ids: list[int]
    payment_id: int | None
    return_reason: str | None


class CollectionOut(Schema):
    id: int
    issuer_id: int
    collection_date: dt.date
    status: Literal["draft", "submitted", "collected"]
    message_id: str
    creditor_id: str
    count: int
    total: MoneyOut
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    collected_at: dt.datetime | None
    debits: list[DebitOut]


def _collection_out(c: Collection) -> dict[str, Any]:
    debits = list(Debit.objects.filter(collection=c).select_related("mandate").order_by("pk"))
    invoices: dict[int, list[int]] = {}
    for debit_id, invoice_id in DebitInvoice.objects.filter(debit__collection=c).values_list(
        "debit_id", "invoice_id"
    ):
        invoices.setdefault(debit_id, []).append(invoice_id)
    returns = dict(
        DebitReturn.objects.filter(debit__collection=c).values_list("debit_id", "reason_code")
    )
    return {
        "id": c.pk,
        "issuer_id": c.partner_id,
        "collection_date": c.collection_date,
        "status": c.status,
        "message_id": c.message_id,
        "creditor_id": c.creditor_id,
        "count": c.count,
        "total": money_out(c.total_minor, c.currency),
        "created_at": c.created_at,
        "submitted_at": c.submitted_at,
        "collected_at": c.collected_at,
        "debits": [
            {
                "id": d.pk,
                "customer_id": d.customer_id,
                "mandate_id": d.mandate_id,
                "mandate_reference": d.mandate.reference,
                "sequence": d.sequence,
                "end_to_end_id": d.end_to_end_id,
                "amount": money_out(d.amount_minor, d.currency),
                "status": d.status,
                "invoice_ids": sorted(invoices.get(d.pk, [])),
                "payment_id": d.payment_id,
                "return_reason": returns.get(d.pk),
            }
            for d in debits
        ],
    }


class CollectionRunIn(InSchema):
    date: Day | None = Field(None, description="Run date; default today")
    until: Day | None = Field(
        None, description="Collect invoices notified up to this day; default date + 5 days"
    )
    partner_id: Id | None = Field(None, description="Operator: the issuer; default home")


class PlannedDebitOut(Schema):
    customer_id: int
    mandate_reference: str
    sequence: str
    invoice_ids: list[int]
    amount: MoneyOut


class PlanOut(Schema):
    issuer_id: int
    collection_date: dt.date
    count: int
    total: MoneyOut
    debits: list[PlannedDebitOut]


class PreviewOut(Schema):
    batches: list[PlanOut]
    skipped: list[dict[str, Any]] = Field(..., description="Invoices left out and why")


def _run_args(request: HttpRequest, payload: CollectionRunIn) -> dict[str, Any]:
    on = payload.date or timezone.localdate()
    until = payload.until or on + dt.timedelta(days=5)
    if until < on or until > on + dt.timedelta(days=60):
        raise DomainValidationError.for_fields(
            {"until": "Choose a day from the run date to 60 days after it."}
        )
    return {"on": on, "until": until, "issuer_ids": [_issuer(request, payload.partner_id).pk]}


@router.post("/collections/preview", response={200: PreviewOut, **ERROR_RESPONSES})
@guard("collections.manage")
def collection_preview_view(request: HttpRequest, payload: CollectionRunIn) -> Any:
    """What a run would collect; writes nothing."""
    result = collection_plan(**_run_args(request, payload))
    return {
        "batches": [
            {
                "issuer_id": p.issuer.pk,
                "collection_date": p.collection_date,
                "count": len(p.debits),
                "total": money_out(p.total_minor, "EUR"),
                "debits": [
                    {
                        "customer_id": d.customer.pk,
                        "mandate_reference": d.mandate.reference,
                        "sequence": d.sequence,
                        "invoice_ids": [inv.pk for inv, _ in d.invoices],
                        "amount": money_out(d.amount_minor, "EUR"),
                    }
                    for d in p.debits
                ],
            }
            for p in result.plans
        ],
        "skipped": [{"invoice_id": inv.pk, "reason": why} for inv, why in result.skipped],
    }


@router.post(
    "/collections",
    response={201: list[CollectionOut], **ERROR_RESPONSES},
    openapi_extra=idempotency_openapi(),
)
@guard("collections.manage")
@idempotent()
def collection_create_view(request: HttpRequest, payload: CollectionRunIn) -> Any:
    """Create the batches (draft) with their pain.008 files. An invoice is never collected
    twice: a second run answers an empty list."""
    created = collection_run(**_run_args(request, payload), actor=actor(request))
    return 201, [CollectionOut(**_collection_out(c)).model_dump(mode="json") for c in created]


class CollectionFilters(ListParams):
    status: Literal["draft", "submitted", "collected"] | None = None
    sort: Literal["id", "-id", "collection_date", "-collection_date"] = "-id"


@router.get("/collections", response={200: Page[CollectionOut], **ERROR_RESPONSES})
@guard("collections.manage")
def collection_list(request: HttpRequest, filters: Query[CollectionFilters]) -> Any:
    qs = Collection.objects.all()
    if filters.status:
        qs = qs.filter(status=filters.status)
    return page(ordered(qs, filters.sort), filters, _collection_out)


@router.get("/collections/{collection_id}", response={200: CollectionOut, **ERROR_RESPONSES})
@guard("collections.manage")
def collection_read(request: HttpRequest, collection_id: int) -> Any:
    return _collection_out(resolved(request, "collection_id"))


_XML = {
    "responses": {
        "200": {
            "description": "The batch's pain.008.001.08 file, as generated",
            "content": {"application/xml": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


@router.get("/collections/{collection_id}/file", response=ERROR_RESPONSES, openapi_extra=_XML)
@guard("collections.manage")
def collection_file_view(request: HttpRequest, collection_id: int) -> HttpResponse:
    batch = resolved(request, "collection_id")
    response = HttpResponse(batch.xml.encode("utf-8"), content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{batch.message_id}.xml"'
    return response


@router.post(
    "/collections/{collection_id}/submit", response={200: CollectionOut, **ERROR_RESPONSES}
)
@guard("collections.manage")
def collection_submit_view(request: HttpRequest, collection_id: int) -> Any:
    """The file was sent to the bank."""
    batch = collection_submit(batch=resolved(request, "collection_id"), actor=actor(request))
    return _collection_out(batch)


@router.post(
    "/collections/{collection_id}/collect", response={200: CollectionOut, **ERROR_RESPONSES}
)
@guard("collections.manage")
def collection_collect_view(request: HttpRequest, collection_id: int) -> Any:
    """The bank credited the batch: one payment per debit on the collection date."""
    batch = collection_collect(batch=resolved(request, "collection_id"), actor=actor(request))
    return _collection_out(batch)


@router.delete("/collections/{collection_id}", response={204: None, **ERROR_RESPONSES})
@guard("collections.manage")
def collection_discard_view(request: HttpRequest, collection_id: int) -> Any:
    """Discard a draft batch that was never sent."""
    collection_discard(batch=resolved(request, "collection_id"), actor=actor(request))
    return 204, None


class ReturnOut(Schema):
    id: int
    debit_id: int
    customer_id: int
    end_to_end_id: str
    reason_code: str
    reason: str
    booking_date: dt.date
    amount: MoneyOut
    mandate_ended: bool
    fee_charge_id: int | None


class ReturnsImportOut(Schema):
    format: str
    booked: list[ReturnOut]
    duplicates: list[str]
    unknown: list[str]


def _return_out(r: DebitReturn) -> dict[str, Any]:
    return {
        "id": r.pk,
        "debit_id": r.debit_id,
        "customer_id": r.customer_id,
        "end_to_end_id": r.debit.end_to_end_id,
        "reason_code": r.reason_code,
        "reason": r.reason,
        "booking_date": r.booking_date,
        "amount": money_out(r.amount_minor, "EUR"),
        "mandate_ended": r.mandate_ended,
        "fee_charge_id": r.fee_charge_id,
    }


@router.post("/sepa/returns", response={201: ReturnsImportOut, **ERROR_RESPONSES})
@guard("collections.manage")
def returns_import_view(request: HttpRequest, file: UploadedFile = File(...)) -> Any:  # noqa: B008
    """Import a camt.054/camt.053 file of returned debits or a pain.002 report of rejected
    ones (multipart, field ``file``). A file imported twice books nothing more."""
    if file.size is not None and file.size > 10 * 1024 * 1024:
        raise DomainValidationError.for_fields({"file": "larger than 10 MB"})
    result = returns_file_import(data=file.read(), actor=actor(request))
    return 201, {
        "format": result.format,
        "booked": [_return_out(r) for r in result.booked],
        "duplicates": result.duplicates,
        "unknown": result.unknown,
    }
