"""Two partners with one object of every partner-owned model each, users of every role,
and the table that maps URL keyword arguments to those objects.

Objects are built generically from the model definitions, so a model added later is
covered without editing this file; a model the generic builder cannot fill gets an entry
in ``BUILDERS``. Every text field of partner B's objects carries ``LEAK_B`` and of
customer A2's objects ``LEAK_A2``, so a response that shows them is caught by content."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.db import models, transaction
from django.utils import timezone

from ispbill.accounts.models import ApiToken, Role, User
from ispbill.core.audit import audit_record
from ispbill.core.tenancy import PartnerScopedManager
from ispbill.customers.models import Customer
from ispbill.partners.models import Partner, PartnerMode

LEAK_B = "leakbbb"
LEAK_A2 = "leakaa2"

# URL keyword argument -> model label of the object it names. A route with a keyword not
# listed here (or in NON_OBJECT_KWARGS) fails the isolation suite until it is added.
KWARG_MODELS: dict[str, str] = {
    "partner_id": "partners.partner",
    "customer_id": "customers.customer",
    "account_id": "customers.customer",
    "user_id": "accounts.user",
    "token_id": "accounts.apitoken",
    "event_id": "core.auditevent",
    "endpoint_id": "events.webhookendpoint",
    "delivery_id": "events.delivery",
    "tariff_id": "catalog.tariff",
    "tax_rate_id": "catalog.taxrate",
    "partner_price_id": "catalog.partnerprice",
    "service_id": "subscriptions.service",
    "one_time_charge_id": "subscriptions.onetimecharge",
    "plan_change_id": "billing.planchange",
    "charge_id": "billing.charge",
    "run_id": "billing.billingrun",
    "billing_run_id": "billing.billingrun",
    "invoice_id": "invoicing.invoice",
    "email_id": "invoicing.emaildelivery",
    "credit_note_id": "invoicing.creditnote",
    "payment_id": "payments.payment",
    "allocation_id": "payments.allocation",
    "refund_id": "payments.refund",
    "entry_id": "ledger.journalentry",
    "journal_entry_id": "ledger.journalentry",
    "statement_id": "partners.commissionstatement",
    "nas_id": "radius.nas",
    "line_id": "dataio.unmatchedbankline",
    "mandate_id": "sepa.mandate",
    "collection_id": "sepa.collection",
    "session_id": "gateways.paymentsession",
}
# (route name, keyword) for routes that name their object ``pk`` or ``id``.
ROUTE_KWARG_MODELS: dict[tuple[str, str], str] = {}
# Keywords that are not object ids, with a value to call the route with.
NON_OBJECT_KWARGS: dict[str, Any] = {
    "year": 2026,
    "month": 1,
    "day": 1,
    "format": "pdf",
    "doc_type": "invoice",
    "action": "submit",
}

# Model label -> function(world, owner) building one object, for models the generic
# builder cannot fill. ``owner`` is "A", "B" or "A2" (partner A, customer A2).
BUILDERS: dict[str, Callable[[World, str], models.Model]] = {
    "billing.charge": lambda world, owner: build_generic(
        world,
        apps.get_model("billing.charge"),
        owner,
        service=world.object("subscriptions.service", owner),
    ),
    # A plan change moves a service from its tariff to another one (never the same).
    "billing.planchange": lambda world, owner: _plan_change(world, owner),
    # The operator's routers: not partner-owned, unique addresses.
    "radius.nas": lambda world, owner: build_generic(
        world,
        apps.get_model("radius.nas"),
        owner,
        address={"A": "192.0.2.11", "A2": "192.0.2.12", "B": "192.0.2.13"}[owner],
    ),
    # One active template per (issuer, type): A and A2 share partner A, so they differ in type.
    "invoicing.documenttemplate": lambda world, owner: apps.get_model(
        "invoicing.documenttemplate"
    ).objects.create(
        partner=world.partner(owner),
        document_type="credit_note" if owner == "A2" else "invoice",
        source=f"// {world.marker(owner)}",
        created_by=world.marker(owner),
    ),
    # One statement per (partner, month): A and A2 share partner A, so they differ in month.
    "partners.commissionstatement": lambda world, owner: build_generic(
        world,
        apps.get_model("partners.commissionstatement"),
        owner,
        period_start=dt.date(2026, 2 if owner == "A2" else 1, 1),
    ),
    # One creditor settings row per issuer: A and A2 share partner A's.
    "sepa.creditorsettings": lambda world, owner: (
        world.object("sepa.creditorsettings", "A")
        if owner == "A2"
        else build_generic(world, apps.get_model("sepa.creditorsettings"), owner)
    ),
    # One gateway settings row per issuer: A and A2 share partner A's.
    "gateways.gatewaysettings": lambda world, owner: (
        world.object("gateways.gatewaysettings", "A")
        if owner == "A2"
        else build_generic(world, apps.get_model("gateways.gatewaysettings"), owner)
    ),
    "invoicing.issuerasset": lambda world, owner: apps.get_model(
        "invoicing.issuerasset"
    ).objects.create(
        partner=world.partner(owner),
        name=f"{world.marker(owner)}.typ",
        content=f"// {world.marker(owner)}".encode(),
        content_type="text/x-typst",
    ),
}


def _plan_change(world: World, owner: str) -> models.Model:
    service = world.object("subscriptions.service", owner)
    new_tariff = build_generic(
        world,
        apps.get_model("catalog.tariff"),
        owner,
        name=f"{world.marker(owner)} upgrade",
    )
    return build_generic(
        world,
        apps.get_model("billing.planchange"),
        owner,
        service=service,
        customer=service.customer,  # type: ignore[attr-defined]
        old_tariff=service.tariff,  # type: ignore[attr-defined]
        new_tariff=new_tariff,
    )


@dataclass
class World:
    partner_a: Partner
    partner_b: Partner
    customer_a1: Customer
    customer_a2: Customer
    customer_b: Customer
    users: dict[str, User] = field(default_factory=dict)
    objects: dict[tuple[str, str], models.Model] = field(default_factory=dict)
    build_errors: dict[str, str] = field(default_factory=dict)

    def partner(self, owner: str) -> Partner:
        return self.partner_b if owner == "B" else self.partner_a

    def customer(self, owner: str) -> Customer:
        return {"A": self.customer_a1, "A2": self.customer_a2, "B": self.customer_b}[owner]

    def marker(self, owner: str) -> str:
        return {"A": "ownaaa", "A2": LEAK_A2, "B": LEAK_B}[owner]

    def object(self, label: str, owner: str) -> models.Model:
        """The object of model ``label`` owned by ``owner``, built on first use."""
        key = (label, owner)
        if key not in self.objects:
            self.objects[key] = _build(self, apps.get_model(label), owner)
        return self.objects[key]


def _text(world: World, owner: str, f: models.Field[Any, Any], model: type[models.Model]) -> str:
    max_length = getattr(f, "max_length", None) or 200
    value = f"{world.marker(owner)}{model._meta.model_name}{f.name}"
    if isinstance(f, models.EmailField):
        value = f"{world.marker(owner)}@example.com"
    elif isinstance(f, models.URLField):
        value = f"https://{world.marker(owner)}.example.com"
    elif isinstance(f, models.GenericIPAddressField):
        value = "192.0.2.1"
    if len(value) > max_length:
        digest = hashlib.sha1(value.encode()).hexdigest()
        value = (world.marker(owner) + digest)[:max_length]
    return value


def _value(world: World, owner: str, model: type[models.Model], f: Any) -> Any:
    if f.choices:
        return f.choices[0][0]
    if isinstance(f, models.ForeignKey | models.OneToOneField):
        related = f.related_model
        label = related._meta.label_lower
        if label == "partners.partner":
            return world.partner(owner)
        if label == "customers.customer":
            return world.customer(owner)
        if label == "accounts.user":
            return world.users["B_admin" if owner == "B" else "A_admin"]
        return world.object(label, owner)
    if isinstance(f, models.BooleanField):
        return False
    if isinstance(f, models.DateTimeField):
        return timezone.now()
    if isinstance(f, models.DateField):
        return dt.date(2026, 1, 1)
    if isinstance(f, models.DecimalField):
        return Decimal(1)
    if isinstance(f, models.IntegerField | models.FloatField):
        return 1
    if isinstance(f, models.JSONField):
        return {}
    if isinstance(f, models.CharField | models.TextField):
        return _text(world, owner, f, model)
    if isinstance(f, models.FileField):
        return ""
    raise TypeError(f"no value for {model._meta.label}.{f.name} ({type(f).__name__})")


def _build(world: World, model: type[models.Model], owner: str) -> models.Model:
    label = model._meta.label_lower
    if label in BUILDERS:
        return BUILDERS[label](world, owner)
    if label == "partners.partner":
        return world.partner(owner)
    if label == "customers.customer":
        return world.customer(owner)
    if label == "accounts.user":
        return world.users["B_admin" if owner == "B" else "A_admin"]
    if label == "accounts.apitoken":
        user = world.users["B_admin" if owner == "B" else "A_admin"]
        return ApiToken.objects.create(
            user=user,
            name=world.marker(owner),
            prefix=world.marker(owner)[:7] + owner[0],
            secret_hash="0" * 64,
        )
    if label == "core.auditevent":
        partner = world.partner(owner)
        return audit_record(
            action="test.leak",
            obj=partner,
            actor=world.marker(owner),
            changes={"marker": world.marker(owner)},
        )
    return build_generic(world, model, owner)


def build_generic(
    world: World, model: type[models.Model], owner: str, **overrides: Any
) -> models.Model:
    """An object of ``model`` for ``owner`` with every required field filled."""
    kwargs: dict[str, Any] = dict(overrides)
    for f in model._meta.concrete_fields:
        if f.name in overrides or f.attname in overrides:
            continue
        if f.primary_key or getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            continue
        if f.name == "partner":
            kwargs[f.name] = world.partner(owner)
            continue
        is_fk = isinstance(f, models.ForeignKey)
        related_is_core = is_fk and f.related_model._meta.label_lower in (
            "partners.partner",
            "customers.customer",
        )
        if (f.null or f.has_default()) and not related_is_core:
            if isinstance(f, models.CharField | models.TextField) and not f.choices:
                kwargs[f.name] = _text(world, owner, f, model)
            continue
        if f.blank and isinstance(f, models.CharField | models.TextField) and not f.choices:
            kwargs[f.name] = _text(world, owner, f, model)
            continue
        kwargs[f.name] = _value(world, owner, model, f)
    obj = model(**kwargs)
    obj.save()
    return obj


def _partner(name: str, mode: str) -> Partner:
    return Partner.objects.create(name=name, mode=mode)


def _user(username: str, role: str, partner: Partner | None = None, **kw: Any) -> User:
    return User.objects.create(
        username=username,
        role=role,
        partner=partner,
        password=make_password(None),
        email=f"{username}@example.com",
        **kw,
    )


def build_world(*, a_mode: str = PartnerMode.OWN_INVOICING) -> World:
    """Partners A and B (own invoicing unless told), customers A1, A2 (of A) and B, users
    of every role, and one object of every partner-scoped model for A, A2 and B."""
    partner_a = _partner("Partner A", a_mode)
    partner_b = _partner(f"Partner B {LEAK_B}", PartnerMode.OWN_INVOICING)
    customer_a1 = Customer.objects.create(partner=partner_a, reference="A1", name="Cust A1")
    customer_a2 = Customer.objects.create(
        partner=partner_a,
        reference=f"A2{LEAK_A2}",
        name=f"Cust {LEAK_A2}",
        email=f"{LEAK_A2}@example.com",
    )
    customer_b = Customer.objects.create(
        partner=partner_b,
        reference=f"B{LEAK_B}",
        name=f"Cust {LEAK_B}",
        email=f"{LEAK_B}@example.com",
    )
    world = World(partner_a, partner_b, customer_a1, customer_a2, customer_b)
    world.users = {
        "admin": _user("op_admin", Role.ADMIN, is_staff=True),
        "accountant": _user("op_accountant", Role.ACCOUNTANT),
        "support": _user("op_support", Role.SUPPORT),
        "A_admin": _user("a_admin", Role.PARTNER_ADMIN, partner_a),
        "A_staff": _user("a_staff", Role.PARTNER_STAFF, partner_a),
        "B_admin": _user(f"b_admin_{LEAK_B}", Role.PARTNER_ADMIN, partner_b),
        "B_staff": _user(f"b_staff_{LEAK_B}", Role.PARTNER_STAFF, partner_b),
        "A1_customer": _user("a1_customer", Role.CUSTOMER, partner_a, customer=customer_a1),
        "A2_customer": _user(
            f"a2_customer_{LEAK_A2}", Role.CUSTOMER, partner_a, customer=customer_a2
        ),
        "B_customer": _user(f"b_customer_{LEAK_B}", Role.CUSTOMER, partner_b, customer=customer_b),
    }
    for model in apps.get_models():
        if not isinstance(model._default_manager, PartnerScopedManager):
            continue
        for owner in ("A", "A2", "B"):
            label = model._meta.label_lower
            try:
                with transaction.atomic():
                    world.object(label, owner)
            except Exception as exc:  # reported by the tests that need the object
                world.build_errors[label] = f"{type(exc).__name__}: {exc}"
    return world


def object_for_kwarg(world: World, route: str, kwarg: str, owner: str) -> Any:
    """The value to call ``route`` with for ``kwarg``, naming ``owner``'s object.

    Fails loudly for a keyword nobody registered: add it to KWARG_MODELS,
    ROUTE_KWARG_MODELS or NON_OBJECT_KWARGS."""
    if kwarg in NON_OBJECT_KWARGS:
        return NON_OBJECT_KWARGS[kwarg]
    label = ROUTE_KWARG_MODELS.get((route, kwarg)) or KWARG_MODELS.get(kwarg)
    if label is None:
        raise AssertionError(
            f"route {route!r} takes {kwarg!r}, which tests/security/world.py does not know: "
            "add it to KWARG_MODELS (object ids), ROUTE_KWARG_MODELS (for pk/id) or "
            "NON_OBJECT_KWARGS"
        )
    try:
        apps.get_model(label)
    except LookupError as exc:
        raise AssertionError(f"{kwarg!r} maps to {label!r}, which is not a model") from exc
    if label in world.build_errors and (label, owner) not in world.objects:
        raise AssertionError(
            f"cannot build a {label} for the isolation suite ({world.build_errors[label]}): "
            "add a builder to BUILDERS in tests/security/world.py"
        )
    return world.object(label, owner).pk


def database_fingerprint() -> str:
    """A digest of every row of every model (sessions aside): equal before and after a
    refused request proves nothing changed."""
    digest = hashlib.sha256()
    for model in sorted(apps.get_models(), key=lambda m: m._meta.label_lower):
        if model._meta.label_lower in {"sessions.session"} or model._meta.proxy:
            continue
        rows = model._base_manager.order_by("pk").values_list()
        digest.update(model._meta.label_lower.encode())
        for row in rows:
            digest.update(repr(row).encode())
    return digest.hexdigest()
