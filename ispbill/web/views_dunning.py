"""Dunning: what is overdue, what the next dunning run will do (its preview), running it.

The preview is the dunning run itself, rolled back (``dunning_run(dry_run=True)``): the
customers it lists are exactly those the run then blocks, deactivates and reminds. The
confirmed run carries the preview's fingerprint; if anything changed meanwhile (a payment
came in) nothing is done and the new preview is shown instead."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from ispbill.accounts.permissions import require_capability
from ispbill.customers.models import Customer, CustomerStatus
from ispbill.dunning.services import DunningResult, dunning_run
from ispbill.invoicing.models import Invoice
from ispbill.partners.models import Partner, PartnerMode
from ispbill.web.dashboard import blocking_date, overdue_invoices
from ispbill.web.forms.fields import today
from ispbill.web.forms.finance import DunningRunForm
from ispbill.web.panel import access_of, page, paginate, panel_currency, panel_partner

_NO_DUNNING = object()


def dunning_issuer(request: HttpRequest) -> Partner | object | None:
    """Whose dunning this panel previews and runs: the operator's (None), an own-invoicing
    partner's own, or nobody's (``_NO_DUNNING``: the operator duns a percentage or
    aggregated partner's customers)."""
    partner = panel_partner(request)
    if partner is None:
        return None
    if partner.mode == PartnerMode.OWN_INVOICING:
        return partner
    return _NO_DUNNING


def plan_rows(result: DunningResult) -> dict[str, Any]:
    """The preview's (or the run's) customers per action, each with its reason, and the
    reminders with their invoices, for the template."""
    ids = [*result.deactivated, *result.blocked, *result.subcustomers_blocked]
    customers = Customer.objects.filter(pk__in=ids).select_related("partner").in_bulk()
    invoices = (
        Invoice.objects.filter(pk__in=[pk for pk, _days in result.reminded])
        .select_related("customer")
        .in_bulk()
    )

    def rows(pks: list[int]) -> list[dict[str, Any]]:
        return [
            {
                "customer": customers[pk],
                "reason": result.reasons.get(pk, ""),
                "days_late": result.days_late.get(pk),
            }
            for pk in pks
            if pk in customers
        ]

    return {
        "deactivate_rows": rows(result.deactivated),
        "block_rows": rows(result.blocked),
        "sub_rows": rows(result.subcustomers_blocked),
        "late_fees": result.late_fees,
        "remind_rows": [
            {"invoice": invoices[pk], "days": days}
            for pk, days in result.reminded
            if pk in invoices
        ],
    }


@require_capability("finance.read")
def dunning(request: HttpRequest) -> HttpResponse:
    """Overdue invoices with the date their customer will be blocked; the next run's
    preview; who is blocked."""
    day = today()
    issuers = {p.pk: p for p in Partner.objects.all()}
    home = next(p for p in issuers.values() if p.is_home)
    rows = []
    for inv in overdue_invoices(today=day)[:500]:
        issuer = issuers.get(inv.issuer_id, home)
        rows.append(
            {
                "invoice": inv,
                "days": (day - inv.due_date).days,
                "block_on": blocking_date(inv.due_date, issuer.blocking_days),
            }
        )
    tab = request.GET.get("tab", "overdue")
    blocked = Customer.objects.filter(status=CustomerStatus.BLOCKED).select_related("partner")
    query = request.GET.get("q", "").strip()
    if query:
        blocked = blocked.filter(Q(name__icontains=query) | Q(reference__icontains=query))
    scope = dunning_issuer(request)
    preview = None
    if scope is not _NO_DUNNING:
        preview = dunning_run(today=day, dry_run=True, issuer=scope)  # type: ignore[arg-type]
    if tab == "next" and preview is None:
        tab = "overdue"
    context: dict[str, Any] = {
        "tab": tab,
        "today": day,
        "overdue": rows,
        "n_overdue": len(rows),
        "blocked_page": paginate(request, blocked.order_by("-status_changed_at", "pk")),
        "currency": panel_currency(request),
        "preview": preview,
        "can_run": access_of(request).can("billing.run"),
    }
    if preview is not None:
        context["n_next"] = (
            len(preview.blocked)
            + len(preview.deactivated)
            + len(preview.subcustomers_blocked)
            + preview.reminders
            + preview.late_fees
        )
        context["form"] = DunningRunForm(initial={"fingerprint": preview.fingerprint()})
        if tab == "next":
            context.update(plan_rows(preview))
    return page(request, "web/dunning.html", context, "dunning")


@require_capability("billing.run")
@require_POST
def dunning_run_view(request: HttpRequest) -> HttpResponse:
    """Run the dunning previewed: exactly what the preview listed, or (if anything changed
    meanwhile) nothing, and the new preview."""
    scope = dunning_issuer(request)
    if scope is _NO_DUNNING:
        messages.error(request, "Your customers are dunned by the operator's dunning run.")
        return redirect("web:dunning")
    form = DunningRunForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Preview the dunning run first, then confirm it.")
        return redirect(f"{_dunning_url()}?tab=next")
    user: Any = request.user
    result = dunning_run(
        today=today(),
        issuer=scope,  # type: ignore[arg-type]
        actor=user,
        expect=form.cleaned_data["fingerprint"],
    )
    if result.changed:
        messages.warning(
            request,
            "Something changed since the preview (a payment, an invoice): nothing was done. "
            "Here is the run as it stands now; check it and confirm again.",
        )
        return redirect(f"{_dunning_url()}?tab=next")
    context = {"result": result, "today": result.today, **plan_rows(result)}
    messages.success(
        request,
        f"Dunning done: {len(result.blocked)} blocked, {len(result.deactivated)} deactivated, "
        f"{len(result.subcustomers_blocked)} sub-customers blocked with their partner, "
        f"{result.reminders} reminders sent.",
    )
    return page(request, "web/dunning_done.html", context, "dunning")


def _dunning_url() -> str:
    from django.urls import reverse

    return reverse("web:dunning")
