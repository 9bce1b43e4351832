"""Billing runs, invoices, credit notes, payments, refunds, commission statements."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from ispbill.accounts.permissions import require_capability
from ispbill.billing.models import BillingFailure, BillingRun, BillingRunStatus
from ispbill.billing.run import (
    BillingRunBusy,
    BillingRunDateError,
    BillingRunError,
    billing_run_figures,
    billing_run_is_stuck,
    billing_run_launch,
    billing_run_resume,
    billing_run_start,
)
from ispbill.billing.selectors import billing_runs_visible
from ispbill.commission.selectors import commission_statements_visible
from ispbill.commission.statements import (
    commission_statement_approve,
    commission_statement_build,
    commission_statement_csv,
    commission_statement_pay,
    commission_statement_pdf,
    commission_statement_xml,
    commission_statements_build_closed,
    statement_line_rows,
    statement_partners,
)
from ispbill.core.errors import DomainError
from ispbill.core.money import Money
from ispbill.core.tenancy import get_scoped_or_404
from ispbill.customers.models import Customer
from ispbill.customers.selectors import customers_matching
from ispbill.gateways.services import payment_gateway_refund, payment_through_gateway
from ispbill.invoicing.credit import credited_so_far
from ispbill.invoicing.models import (
    SECTIONED_KINDS,
    CreditNote,
    EmailDelivery,
    EmailStatus,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
)
from ispbill.invoicing.selectors import EmailFilters, email_deliveries
from ispbill.invoicing.sending import billing_run_documents, invoice_send
from ispbill.partners.models import CommissionStatement, Partner, PartnerMode, StatementStatus
from ispbill.payments.credit_notes import credit_note_issue, credit_note_preview
from ispbill.payments.models import Payment, PaymentMethod
from ispbill.payments.services import payment_record, payment_refund
from ispbill.web.documents import (
    credit_note_pdf_response,
    invoice_detail_response,
    invoice_lines_shown,
    invoice_pdf_response,
    pdf_response,
    receipt_pdf_response,
)
from ispbill.web.forms.fields import REFUSED, errors_to_form, today
from ispbill.web.forms.finance import (
    CREDIT_FORM_ALL_LINES_MAX,
    CREDIT_FORM_SEARCH_PAGE,
    BillingRunForm,
    BillingRunStartForm,
    CreditNoteForm,
    InvoiceSendForm,
    PaymentForm,
    RefundForm,
)
from ispbill.web.forms.partners import StatementBuildForm, StatementPayForm
from ispbill.web.panel import (
    access_of,
    actor,
    page,
    paginate,
    panel_currency,
    panel_partner,
    sorted_by,
)
from ispbill.web.views_sepa import invoice_direct_debit

# -- billing runs ---------------------------------------------------------------------------


def _run_issuer(request: HttpRequest) -> Partner | None:
    """Operator runs bill everyone; an own-invoicing partner's run bills its customers."""
    return panel_partner(request)


def _runs(request: HttpRequest) -> Any:
    return billing_runs_visible().select_related("scope_partner").order_by("-id")


@require_capability("billing.run")
def billing(request: HttpRequest) -> HttpResponse:
    form = BillingRunForm(initial={"run_date": today()})
    context = {"form": form, "page": paginate(request, _runs(request))}
    return page(request, "web/billing/index.html", context, "billing")


def _preview_context(summary: Any, run_date: date, form: Any = None) -> dict[str, Any]:
    stats = summary.stats
    return {
        "run_date": run_date,
        "summary": summary,
        "groups": [
            {"issuer": issuer, "recipient": recipient, **figures}
            for (issuer, recipient), figures in sorted(stats.groups.items())
        ],
        "dates": sorted(stats.per_date.items()),
        "totals": sorted(stats.totals.items()),
        "start_form": form
        or BillingRunStartForm(initial={"run_date": run_date, "caught_up": stats.caught_up}),
    }


@require_capability("billing.run")
@require_POST
def billing_preview(request: HttpRequest) -> HttpResponse:
    """A dry run: what a run would issue, per issuer and recipient and per billing date,
    before anything is written."""
    form = BillingRunForm(request.POST)
    if not form.is_valid():
        context = {"form": form, "page": paginate(request, _runs(request))}
        return page(request, "web/billing/index.html", context, "billing")
    run_date: date = form.cleaned_data["run_date"]
    summary = billing_run_start(run_date=run_date, dry_run=True, issuer=_run_issuer(request))
    return page(request, "web/billing/preview.html", _preview_context(summary, run_date), "billing")


@require_capability("billing.run")
@require_POST
def billing_start(request: HttpRequest) -> HttpResponse:
    """Start the previewed run in the background and show its page, which follows its
    progress: the request never waits for the run. A second start of the same date while it
    runs (a double click) is refused by the database and leads to the run going."""
    form = BillingRunStartForm(request.POST)
    if not form.is_valid() and set(form.errors) == {"confirm_catch_up"}:
        # Only the catch-up is unconfirmed: the same preview again (its date, its figures,
        # computed anew), the error beside the box to tick.
        run_date: date = form.cleaned_data["run_date"]
        summary = billing_run_start(run_date=run_date, dry_run=True, issuer=_run_issuer(request))
        context = _preview_context(summary, run_date, form)
        return page(request, "web/billing/preview.html", context, "billing")
    if not form.is_valid():
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs if str(e))
        messages.error(request, errors or "Preview the run first, then confirm it.")
        return redirect("web:billing")
    user: Any = request.user
    try:
        run = billing_run_launch(
            run_date=form.cleaned_data["run_date"],
            issuer=_run_issuer(request),
            started_by=user.username,
        )
    except BillingRunBusy as exc:
        messages.warning(request, str(exc))
        if exc.run is not None and _runs(request).filter(pk=exc.run.pk).exists():
            return redirect("web:billing_run", run_id=exc.run.pk)
        return redirect("web:billing")
    except (BillingRunError, BillingRunDateError) as exc:
        messages.error(request, f"The billing run was not started: {exc}")
        return redirect("web:billing")
    messages.info(request, f"Billing run #{run.pk} started; it goes on if you leave this page.")
    return redirect("web:billing_run", run_id=run.pk)


def _run_for(request: HttpRequest, run_id: int) -> BillingRun:
    return get_object_or_404(billing_runs_visible().select_related("scope_partner"), pk=run_id)


@require_capability("billing.run")
def billing_run(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_for(request, run_id)
    invoices = Invoice.objects.filter(billing_run=run).select_related("customer", "partner")
    figures = billing_run_figures(run.pk)
    context = {
        "run": run,
        "groups": [
            {"issuer": issuer, "recipient": recipient, **f}
            for (issuer, recipient), f in sorted(figures.groups.items())
        ],
        "dates": sorted(figures.per_date.items()),
        "invoices": paginate(request, invoices.order_by("number")),
        "totals": sorted(run.totals.items()),
        "failures": list(
            BillingFailure.objects.filter(run=run).select_related("customer", "partner")
        ),
        "stuck": billing_run_is_stuck(run),
        "timeout_minutes": settings.BILLING_RUN_TIMEOUT // 60,
        "documents": billing_run_documents(run.pk),
    }
    return page(request, "web/billing/run.html", context, "billing")


@require_capability("billing.run")
@require_POST
def billing_run_resume_view(request: HttpRequest, run_id: int) -> HttpResponse:
    """A run left running: mark it failed and start the run again (it does what was left)."""
    run = _run_for(request, run_id)
    try:
        summary = billing_run_resume(
            run_id=run.pk,
            actor=request.user,
            force=bool(request.POST.get("force")),
            background=True,
        )
    except BillingRunError as exc:
        messages.error(request, str(exc))
        return redirect("web:billing_run", run_id=run.pk)
    messages.success(request, f"Billing run #{run.pk} marked failed; the run was started again.")
    if summary.run_id is None:
        return redirect("web:billing")
    return redirect("web:billing_run", run_id=summary.run_id)


@require_capability("billing.run")
def billing_run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The progress bar, polled by htmx while the run is going."""
    run = _run_for(request, run_id)
    response = page(request, "web/billing/progress.html", {"run": run}, "billing")
    if run.status != BillingRunStatus.RUNNING:
        response["HX-Refresh"] = "true"
    return response


# -- invoices -------------------------------------------------------------------------------


def _invoice_filters(request: HttpRequest, qs: Any) -> tuple[Any, dict[str, Any]]:
    query = request.GET.get("q", "").strip()
    if query:
        qs = qs.filter(
            Q(number__icontains=query)
            | Q(customer__name__icontains=query)
            | Q(customer__reference__icontains=query)
        )
    status = request.GET.get("status", "")
    if status == "overdue":
        qs = qs.filter(
            status__in=[InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID], due_date__lt=today()
        )
    elif status in InvoiceStatus.values:
        qs = qs.filter(status=status)
    partner = request.GET.get("partner", "")
    if partner.isdigit():
        qs = qs.filter(partner_id=int(partner))
    start, end = request.GET.get("start", ""), request.GET.get("end", "")
    try:
        if start:
            qs = qs.filter(issue_date__gte=date.fromisoformat(start))
        if end:
            qs = qs.filter(issue_date__lte=date.fromisoformat(end))
    except ValueError:
        messages.warning(request, "Dates look like 2026-04-05; that filter was ignored.")
    filters = {"query": query, "status": status, "partner": partner, "start": start, "end": end}
    return qs, filters


INVOICE_SORTS = {
    "number": "number",
    "issued": "issue_date",
    "due": "due_date",
    "total": "total_minor",
    "customer": "customer__name",
}


@require_capability("finance.read")
def invoices(request: HttpRequest) -> HttpResponse:
    qs = Invoice.objects.select_related("customer", "partner", "issuer")
    qs, filters = _invoice_filters(request, qs)
    qs, sort = sorted_by(request, qs, INVOICE_SORTS, "-issued")
    context = {
        "page": paginate(request, qs),
        "sort": sort,
        "statuses": [*InvoiceStatus.choices, ("overdue", "Overdue")],
        "partners": Partner.objects.all() if access_of(request).is_operator else [],
        "today": today(),
        **filters,
    }
    return page(request, "web/invoices/list.html", context, "invoices")


@require_capability("finance.read")
def aggregated(request: HttpRequest) -> HttpResponse:
    """Invoices to partners' accounts: aggregated invoices and wholesale charges."""
    qs = Invoice.objects.filter(kind__in=SECTIONED_KINDS)
    qs = qs.select_related("customer")
    qs, filters = _invoice_filters(request, qs)
    qs, sort = sorted_by(request, qs, INVOICE_SORTS, "-issued")
    owners = dict(Partner.objects.filter(account__isnull=False).values_list("account_id", "name"))
    context = {
        "page": paginate(request, qs),
        "sort": sort,
        "owners": owners,
        "statuses": [*InvoiceStatus.choices, ("overdue", "Overdue")],
        "today": today(),
        **filters,
    }
    return page(request, "web/invoices/aggregated.html", context, "aggregated")


def _own_document(request: HttpRequest, invoice: Invoice) -> bool:
    """Whether the panel acts on this invoice (a partner reads, never changes, the
    invoices the operator issues to its account)."""
    access = access_of(request)
    return access.is_operator or invoice.partner_id == access.partner_id


def _send_form(invoice: Invoice, data: Any = None) -> InvoiceSendForm:
    return InvoiceSendForm(data, initial={"to": invoice.customer_snapshot.get("email") or ""})


@require_capability("finance.read")
def invoice_detail(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = get_scoped_or_404(Invoice, pk=invoice_id)
    lines, line_count = invoice_lines_shown(invoice)
    sections: dict[str, list[Any]] = {}
    for line in lines:
        sections.setdefault(line.section, []).append(line)
    access = access_of(request)
    own = _own_document(request, invoice)
    context = {
        "invoice": invoice,
        "sections": sections,
        "lines_shown": len(lines),
        "line_count": line_count,
        "taxes": invoice.taxes.all(),
        "credit_notes": CreditNote.objects.filter(invoice=invoice),
        "allocations": invoice.allocations.select_related("payment").order_by("id"),
        "overdue": invoice.open_minor > 0 and invoice.due_date < today(),
        "can_credit": access.can("finance.write")
        and own
        and invoice.status != InvoiceStatus.CREDITED,
        # A fully credited invoice is owed by no one: not offered for sending.
        "can_send": access.can("finance.write")
        and own
        and invoice.status != InvoiceStatus.CREDITED,
        "send_form": _send_form(invoice),
        "direct_debit": invoice_direct_debit(invoice),
        # Its e-mails (docs/documents.md, "The e-mail log: page and API"): the newest 10.
        "emails": list(email_deliveries(EmailFilters(invoice_id=invoice.pk))[:11]),
    }
    return page(request, "web/invoices/detail.html", context, "invoices")


def _sent_message(request: HttpRequest, invoice: Invoice, delivery: EmailDelivery) -> None:
    """What became of the e-mail by now: without a broker it was sent (or failed) when the
    send committed, in this request, with one attempt; with one a worker has it, queued
    (docs/documents.md, "Email delivery")."""
    status, error = EmailDelivery.objects.filter(pk=delivery.pk).values_list(
        "status", "last_error"
    ).first() or (EmailStatus.QUEUED, "")
    if status == EmailStatus.SENT:
        messages.success(request, f"Invoice {invoice.number} was sent to {delivery.to}.")
    elif status == EmailStatus.FAILED:
        emails_url = reverse("web:emails") + f"?invoice={invoice.pk}&status=failed"
        messages.error(
            request,
            format_html(
                'Invoice {} could not be sent to {}: {}. The e-mail is failed on the <a href="{}">'
                "E-mails page</a>, to send again once the cause is fixed.",
                invoice.number,
                delivery.to,
                (error or "unknown error").rstrip("."),
                emails_url,
            ),
        )
    else:
        messages.success(
            request,
            f"Invoice {invoice.number} is queued and on its way to {delivery.to}; the "
            "E-mails page shows when it has been sent.",
        )


@require_capability("finance.write")
def invoice_send_view(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """Email the invoice with its PDF attached: the address is prefilled from the customer
    and confirmed before sending."""
    invoice = get_scoped_or_404(Invoice, pk=invoice_id, for_write=True)
    form = _send_form(invoice, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            delivery = invoice_send(invoice=invoice, to=form.cleaned_data["to"], actor=request.user)
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            _sent_message(request, invoice, delivery)
            return redirect("web:invoice", invoice_id=invoice.pk)
    context = {"form": form, "invoice": invoice}
    return page(request, "web/invoices/send.html", context, "invoices")


@require_capability("finance.read")
def invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = get_scoped_or_404(Invoice, pk=invoice_id)
    return invoice_pdf_response(invoice)


@require_capability("finance.read")
def invoice_detail_csv_view(request: HttpRequest, invoice_id: int) -> HttpResponseBase:
    """The line detail of an aggregated or wholesale invoice as CSV, for whoever may see the
    invoice."""
    return invoice_detail_response(get_scoped_or_404(Invoice, pk=invoice_id))


@require_capability("finance.read")
def credit_note_pdf_view(request: HttpRequest, credit_note_id: int) -> HttpResponse:
    return credit_note_pdf_response(get_scoped_or_404(CreditNote, pk=credit_note_id))


@require_capability("finance.read")
def payment_receipt_pdf(request: HttpRequest, payment_id: int) -> HttpResponse:
    return receipt_pdf_response(get_scoped_or_404(Payment, pk=payment_id))


def _posted_line_ids(post: Any) -> list[int]:
    """The invoice line ids the form posted an amount for (``line_<id>`` fields not empty)."""
    ids = []
    for key, value in post.items():
        if key.startswith("line_") and key[5:].isdigit() and (value or "").strip():
            ids.append(int(key[5:]))
    return ids


def _line_search(invoice: Invoice, q: str, exclude: set[int]) -> tuple[list[InvoiceLine], bool]:
    """At most a page of the invoice's lines matching ``q`` (description, sub-customer name
    or number on sectioned invoices, position), in position order, read with a limit in SQL;
    and whether there are more."""
    if not q:
        return [], False
    match = Q(description__icontains=q)
    if invoice.has_sections:
        match |= (
            Q(section__icontains=q)
            | Q(section_customer__name__icontains=q)
            | Q(section_customer__reference__iexact=q)
        )
    if q.isdigit() and len(q) < 10:
        match |= Q(position=int(q))
    found = list(
        InvoiceLine.objects.filter(invoice=invoice)
        .filter(match)
        .exclude(pk__in=exclude)
        .order_by("position")[: CREDIT_FORM_SEARCH_PAGE + 1]
    )
    return found[:CREDIT_FORM_SEARCH_PAGE], len(found) > CREDIT_FORM_SEARCH_PAGE


@require_capability("finance.write")
def credit_note_new(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """Two steps: the form, then (valid) the confirmation with what will be credited (net,
    VAT, gross total) computed by the same rules as the issue; the credit note is issued only
    from the confirmation (``confirm``), re-checked then.

    Up to CREDIT_FORM_ALL_LINES_MAX lines every line has an amount field; above it only the
    lines given an amount (as posted) and a page of lines found by the search ``q`` have one,
    so the page and the post stay small on invoices of 160,000 lines (docs/billing.md)."""
    invoice = get_scoped_or_404(Invoice, pk=invoice_id, for_write=True)
    line_count = invoice.lines.count()
    many = line_count > CREDIT_FORM_ALL_LINES_MAX
    data = request.POST if request.method == "POST" else None
    q = ((data or request.GET).get("q") or "").strip()[:100]
    posted = _posted_line_ids(data) if data is not None else []
    own = list(InvoiceLine.objects.filter(invoice=invoice, pk__in=posted).order_by("position"))
    foreign = sorted(set(posted) - {line.pk for line in own})
    more = False
    if many:
        found, more = _line_search(invoice, q, {line.pk for line in own})
        lines = own + found
    else:
        lines = list(invoice.lines.order_by("position"))
    credited = credited_so_far(invoice, [line.pk for line in lines])
    form = CreditNoteForm(
        data, lines=lines, currency=invoice.currency, foreign_line_ids=[str(i) for i in foreign]
    )
    for line, name in form.line_fields:
        left = Money.from_minor(line.amount_minor - (credited.get(line.pk) or 0), invoice.currency)
        where = f" · {line.section}" if line.section else ""
        form.fields[name].help_text = f"Line {line.position}{where} · left to credit {left}"
    preview = None
    searching = data is not None and "search" in data
    if data is None or "edit" in data or searching or not form.is_valid():
        step = "edit"  # the form (again, as entered)
    elif data.get("confirm") == "1":
        step = "confirm"
    else:
        step = "preview"
    try:
        if step == "preview":
            preview = credit_note_preview(
                invoice=invoice, reason=form.cleaned_data["reason"], lines=form.line_amounts()
            )
        elif step == "confirm":
            note = credit_note_issue(
                invoice=invoice,
                on=form.cleaned_data["date"],
                reason=form.cleaned_data["reason"],
                lines=form.line_amounts(),
                **actor(request),
            )
            messages.success(request, f"Credit note {note.number} issued for {invoice.number}.")
            return redirect("web:invoice", invoice_id=invoice.pk)
    except REFUSED as exc:
        errors_to_form(form, exc)
    entered_ids = {line.pk for line in own}
    context = {
        "form": form,
        "invoice": invoice,
        "preview": preview,
        "many": many,
        "line_count": line_count,
        "all_lines_max": CREDIT_FORM_ALL_LINES_MAX,
        "q": q,
        "more": more,
        "entered_fields": [f for line, f in _bound_lines(form) if line.pk in entered_ids],
        "found_fields": [f for line, f in _bound_lines(form) if line.pk not in entered_ids],
    }
    if searching:  # a search is not a submission: no errors for what is not filled in yet
        form.errors.clear()
    if searching and request.headers.get("HX-Request"):
        return render(request, "web/invoices/credit_note_lines.html", context)
    return page(request, "web/invoices/credit_note.html", context, "invoices")


def _bound_lines(form: CreditNoteForm) -> list[tuple[Any, Any]]:
    return [(line, form[name]) for line, name in form.line_fields]


# -- payments -------------------------------------------------------------------------------


@require_capability("finance.read")
def payments(request: HttpRequest) -> HttpResponse:
    qs = Payment.objects.select_related("customer").annotate(
        unallocated=F("amount_minor") - F("allocated_minor") - F("refunded_minor")
    )
    query = request.GET.get("q", "").strip()
    if query:
        qs = qs.filter(
            Q(reference__icontains=query)
            | Q(receipt_number=query)
            | Q(customer__name__icontains=query)
            | Q(customer__reference__icontains=query)
        )
    method = request.GET.get("method", "")
    if method in PaymentMethod.values:
        qs = qs.filter(method=method)
    qs, sort = sorted_by(
        request,
        qs,
        {"date": "date", "amount": "amount_minor", "customer": "customer__name"},
        "-date",
    )
    context = {
        "page": paginate(request, qs),
        "sort": sort,
        "query": query,
        "method": method,
        "methods": PaymentMethod.choices,
    }
    return page(request, "web/payments/list.html", context, "payments")


# The customer picker of the payment form lists at most this many matches
# (docs/payments.md, "Recording a payment by hand").
PICKER_SIZE = 20
PICKER_QUERY_MAX = 100


def _payable_accounts(request: HttpRequest) -> QuerySet[Customer]:
    """The customers the user may record a payment for: every one for the operator's staff,
    its own partner's for a partner user (not the accounts the operator bills it through)."""
    access = access_of(request)
    qs = Customer.objects.all()
    if not access.is_operator:
        qs = qs.filter(partner_id=access.partner_id or 0)
    return qs


def _customer_id(value: Any) -> int | None:
    """A customer id as a link or a form gives it, None unless it is one (``²`` and
    21 digits are not)."""
    text = str(value or "").strip()
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None


def _picker(request: HttpRequest, query: str, chosen_id: int | None) -> dict[str, Any]:
    """What the customer picker shows: the chosen customer (checked, first) and at most
    PICKER_SIZE customers of the user's scope matching ``query`` (the customers list's
    search), never more rows read than that plus one."""
    accounts = _payable_accounts(request).select_related("partner")
    query = query.strip()[:PICKER_QUERY_MAX]
    chosen = accounts.filter(pk=chosen_id).first() if chosen_id else None
    found: list[Customer] = []
    if query:
        matching = customers_matching(accounts, query).order_by("name", "reference", "pk")
        found = list(matching[: PICKER_SIZE + 1])
    more = len(found) > PICKER_SIZE
    found = found[:PICKER_SIZE]
    return {
        "picker": {
            "query": query,
            "chosen": chosen,
            "matches": [c for c in found if chosen is None or c.pk != chosen.pk],
            "found": len(found),
            "more": more,
            "size": PICKER_SIZE,
            "show_partner": access_of(request).is_operator,
        }
    }


@require_capability("finance.write")
def payment_new(request: HttpRequest) -> HttpResponse:
    currency = panel_currency(request)
    form = PaymentForm(
        request.POST or None, customers=_payable_accounts(request), currency=currency
    )
    if request.method == "POST" and form.is_valid():
        customer = form.cleaned_data["customer"]
        try:
            payment = payment_record(
                customer=customer,
                amount=Money.parse(str(form.cleaned_data["amount"]), currency),
                on=form.cleaned_data["date"],
                method=form.cleaned_data["method"],
                reference=form.cleaned_data["reference"],
                note=form.cleaned_data["note"],
                **actor(request),
            )
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            messages.success(
                request,
                f"Payment of {Money.from_minor(payment.amount_minor, payment.currency).format()} "
                f"recorded for {customer.name} and allocated to the oldest open invoices.",
            )
            return redirect("web:customer", customer_id=customer.pk)
    # The chosen customer: the one posted back, else the one a link names (?customer=);
    # without JavaScript the search is this page read with ?q=.
    chosen = form["customer"].value() if form.is_bound else request.GET.get("customer")
    picker = _picker(request, request.GET.get("q", ""), _customer_id(chosen))
    return page(request, "web/payments/form.html", {"form": form, **picker}, "payments")


@require_capability("finance.write")
def payment_customers(request: HttpRequest) -> HttpResponse:
    """The customer picker's matches for ``?q=`` as it is typed (htmx): the radio buttons
    and, out of band, the picker's status line. ``?customer=`` keeps the one checked."""
    picker = _picker(request, request.GET.get("q", ""), _customer_id(request.GET.get("customer")))
    return page(request, "web/payments/customer_picker.html", picker, "payments")


@require_capability("finance.write")
def payment_refund_view(request: HttpRequest, payment_id: int) -> HttpResponse:
    payment = get_scoped_or_404(Payment, pk=payment_id, for_write=True)
    form = RefundForm(request.POST or None, currency=payment.currency)
    # A card payment taken by the gateway is refunded to the card through the gateway.
    gateway = payment_through_gateway(payment)
    if request.method == "POST" and form.is_valid():
        try:
            (payment_gateway_refund if gateway else payment_refund)(
                payment=payment,
                amount=Money.parse(str(form.cleaned_data["amount"]), payment.currency),
                on=form.cleaned_data["date"],
                reason=form.cleaned_data["reason"],
                **actor(request),
            )
        except REFUSED as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, "Refund recorded.")
            return redirect("web:customer", customer_id=payment.customer_id)
    context = {"form": form, "payment": payment, "gateway": gateway}
    return page(request, "web/payments/refund.html", context, "payments")


# -- commission statements ------------------------------------------------------------------


def _statements(request: HttpRequest) -> Any:
    return commission_statements_visible().select_related("partner")


@require_capability("commission.read")
def commissions(request: HttpRequest) -> HttpResponse:
    qs = _statements(request)
    status = request.GET.get("status", "")
    if status in StatementStatus.values:
        qs = qs.filter(status=status)
    context = {
        "page": paginate(request, qs),
        "status": status,
        "statuses": StatementStatus.choices,
        "build_form": StatementBuildForm(),
        "can_manage": access_of(request).can("commission.manage"),
    }
    return page(request, "web/commissions/list.html", context, "commissions")


@require_capability("commission.manage")
@require_POST
def commissions_build(request: HttpRequest) -> HttpResponse:
    form = StatementBuildForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a day of the month to build statements for.")
        return redirect("web:commissions")
    month = form.cleaned_data["month"]
    built = 0
    for partner in statement_partners(month=month):
        try:
            commission_statement_build(partner=partner, month=month, **actor(request))
            built += 1
        except DomainError as exc:
            messages.warning(request, f"{partner.name}: {exc}")
    messages.success(request, f"{built} statement(s) built for {month:%B %Y}.")
    return redirect("web:commissions")


@require_capability("commission.manage")
@require_POST
def commissions_build_closed(request: HttpRequest) -> HttpResponse:
    """Build every closed month not built yet, for every partner (what the daily work does)."""
    result = commission_statements_build_closed(**actor(request))
    for failure in result.failures:
        messages.warning(request, failure)
    messages.success(request, result.message())
    return redirect("web:commissions")


def _statement_for(request: HttpRequest, statement_id: int) -> CommissionStatement:
    return get_object_or_404(
        commission_statements_visible().select_related("partner"), pk=statement_id
    )


@require_capability("commission.read")
def commission_detail(request: HttpRequest, statement_id: int) -> HttpResponse:
    statement = _statement_for(request, statement_id)
    lines = statement_line_rows(statement)
    context = {
        "statement": statement,
        "lines": paginate(request, lines, 50),
        "pay_form": StatementPayForm(),
        "can_manage": access_of(request).can("commission.manage"),
    }
    return page(request, "web/commissions/detail.html", context, "commissions")


@require_capability("commission.read")
def commission_csv(request: HttpRequest, statement_id: int) -> HttpResponse:
    statement = _statement_for(request, statement_id)
    response = HttpResponse(commission_statement_csv(statement), content_type="text/csv")
    name = f"commission-{statement.partner_id}-{statement.period_start:%Y-%m}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_capability("commission.manage")
@require_POST
def commission_approve(request: HttpRequest, statement_id: int) -> HttpResponse:
    statement = _statement_for(request, statement_id)
    try:
        commission_statement_approve(statement=statement, **actor(request))
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Statement approved; the commission is now owed.")
    return redirect("web:commission", statement_id=statement.pk)


@require_capability("commission.manage")
@require_POST
def commission_pay(request: HttpRequest, statement_id: int) -> HttpResponse:
    statement = _statement_for(request, statement_id)
    form = StatementPayForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(str(e) for e in errors))
        return redirect("web:commission", statement_id=statement.pk)
    try:
        commission_statement_pay(
            statement=statement,
            on=form.cleaned_data["date"],
            reference=form.cleaned_data["reference"],
            **actor(request),
        )
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Payout recorded.")
    return redirect("web:commission", statement_id=statement.pk)


@require_capability("commission.read")
def commission_pdf(request: HttpRequest, statement_id: int) -> HttpResponse:
    statement = _statement_for(request, statement_id)
    name = statement.number or f"commission-{statement.partner_id}-{statement.period_start:%Y-%m}"
    return pdf_response(commission_statement_pdf(statement), name)


@require_capability("commission.read")
def commission_xml(request: HttpRequest, statement_id: int) -> HttpResponse:
    """The approved statement's EN 16931 XML (Factur-X, type 389)."""
    statement = _statement_for(request, statement_id)
    try:
        xml = commission_statement_xml(statement)
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("web:commission", statement_id=statement.pk)
    response = HttpResponse(xml, content_type="application/xml")
    safe = "".join(ch for ch in statement.number if ch.isalnum() or ch in "-_") or "statement"
    response["Content-Disposition"] = f'attachment; filename="{safe}.xml"'
    return response


__all__ = ["PartnerMode"]
