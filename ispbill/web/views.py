"""Operator home: the partners and customers that exist."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from ispbill.customers.models import Customer
from ispbill.partners.models import Partner


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    partners = Partner.objects.all()
    if not getattr(user, "is_operator", False):
        partners = partners.filter(pk=user.partner_id or 0)
    partners = partners.annotate(
        n_customers=Count("customers"),
        n_active=Count("customers", filter=Q(customers__status="active")),
    )
    customers = Customer.objects.select_related("partner").order_by("partner_id", "reference")
    if getattr(user, "role", None) == "customer":
        customers = customers.filter(pk=user.customer_id or 0)
    query = request.GET.get("q", "").strip()
    if query:
        customers = customers.filter(
            Q(name__icontains=query) | Q(reference__icontains=query) | Q(email__icontains=query)
        )
    page = Paginator(customers, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "web/home.html",
        {"partners": partners, "page": page, "query": query},
    )
