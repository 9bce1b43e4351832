"""Forms of users: a user's own profile, creating and editing users."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import RegexValidator

from ispbill.accounts.models import OPERATOR_ROLES, PARTNER_ROLES, Role, User
from ispbill.accounts.services import PARTNER_SCOPE_ROLES
from ispbill.customers.models import Customer
from ispbill.partners.models import Partner
from ispbill.web.forms.fields import (
    FieldsetsMixin,
)


class ProfileForm(forms.ModelForm):
    """A customer's own details in the portal. What the invoices are addressed to (the
    billing address; the e-mail address invoices and reminders are sent to) can be changed
    but not emptied: the provider's records would lose where to send them."""

    KEPT = ("email", "street", "postcode", "city")

    class Meta:
        model = Customer
        fields = ["email", "phone", "street", "postcode", "city", "language"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.KEPT:
            if getattr(self.instance, name, ""):
                field = self.fields[name]
                field.required = True
                field.error_messages["required"] = (
                    "Your invoices are addressed with this: change it, but do not leave it empty."
                )


USERNAME_VALIDATOR = RegexValidator(
    r"^[\w.@+-]+$", "Letters, digits and . @ + - _ only, without spaces."
)
PASSWORD_CHOICES = [
    ("link", "Email a link to choose a password"),
    ("set", "Set an initial password now"),
]


def _role_choices(roles: Any) -> list[tuple[str, str]]:
    return [(r.value, r.label) for r in Role if r in roles]


class UserCreateForm(FieldsetsMixin, forms.Form):
    """A new user. Operators choose any role and partner; in a partner's panel the partner
    is fixed and only partner staff and portal users can be chosen."""

    username = forms.CharField(
        max_length=150,
        validators=[USERNAME_VALIDATOR],
        help_text="Used to sign in; cannot be changed later.",
    )
    email = forms.EmailField(max_length=254, required=False)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    role = forms.ChoiceField(choices=[])
    partner = forms.ModelChoiceField(
        queryset=Partner._base_manager.none(),
        required=False,
        empty_label="None (your own staff)",
        help_text="Partner roles and portal users only; empty for your own staff.",
    )
    customer = forms.CharField(
        label="Customer number",
        max_length=64,
        required=False,
        help_text="Portal users only: the customer whose invoices and services they see.",
    )
    password_mode = forms.ChoiceField(
        label="How they get a password",
        choices=PASSWORD_CHOICES,
        initial="link",
        help_text="A link needs an email address; it works once and expires.",
    )
    password = forms.CharField(
        label="Initial password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Only when setting it now: at least 8 characters, not a common one.",
    )
    password_again = forms.CharField(
        label="Initial password again",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    sections = [
        ("Who", "", ["username", "email", "first_name", "last_name"]),
        (
            "Role",
            "Operator staff work for all partners; partner administrators and staff only for "
            "their partner; portal users see one customer's own services and invoices.",
            ["role", "partner", "customer"],
        ),
        ("Sign-in", "", ["password_mode", "password", "password_again"]),
    ]

    def __init__(self, *args: Any, partners: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        role: Any = self.fields["role"]
        if partners is None:
            role.choices = _role_choices(PARTNER_SCOPE_ROLES)
            role.initial = Role.PARTNER_STAFF
            self.fields.pop("partner")
            self.sections = [
                (
                    title,
                    "Administrators and staff work in this panel; portal users see one of "
                    "your customers' own services and invoices."
                    if title == "Role"
                    else explain,
                    names,
                )
                for title, explain, names in self.sections
            ]
        else:
            role.choices = _role_choices(Role)
            role.initial = Role.SUPPORT
            self._choices("partner").queryset = partners

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        role = data.get("role")
        partner = data.get("partner")
        if "partner" in self.fields and role:
            if role in OPERATOR_ROLES and partner is not None:
                self.add_error("partner", "Operator staff belong to no partner; leave it empty.")
            if role in PARTNER_ROLES and partner is None:
                self.add_error("partner", "Choose the partner this user works for.")
        if role == Role.CUSTOMER and not data.get("customer"):
            self.add_error("customer", "Give the customer number of the portal user.")
        if role and role != Role.CUSTOMER and data.get("customer"):
            self.add_error("customer", "Only portal users belong to a customer.")
        if data.get("password_mode") == "link" and not data.get("email"):
            self.add_error("email", "The link is sent by email: give an address.")
        if data.get("password_mode") == "set":
            if not data.get("password"):
                self.add_error("password", "Enter the initial password.")
            elif data.get("password") != data.get("password_again"):
                self.add_error("password_again", "The two passwords differ.")
        return data


class UserEditForm(FieldsetsMixin, forms.Form):
    email = forms.EmailField(max_length=254, required=False)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    role = forms.ChoiceField(choices=[])

    def __init__(self, *args: Any, user: User, editing_self: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "role": user.role,
            },
        )
        super().__init__(*args, **kwargs)
        role: Any = self.fields["role"]
        if user.role in OPERATOR_ROLES:
            role.choices = _role_choices(OPERATOR_ROLES)
        elif user.role in PARTNER_ROLES:
            role.choices = _role_choices(PARTNER_ROLES)
        else:
            role.choices = _role_choices({Role.CUSTOMER})
        if user.role == Role.CUSTOMER or editing_self:
            self.fields.pop("role")
