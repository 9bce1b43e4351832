"""Email templates: Jinja2 in an immutable sandbox, fed plain data (strings, never models).

A template renders the whole message; its first line is ``Subject: ...``, the rest is the
plain-text body. Partners write their own, so the environment has no loader (``include``,
``import`` and ``extends`` reach no file), the sandbox refuses underscore attributes
(``__class__``, ``__globals__``) and calls of anything unsafe, and every way of building a
long string is capped (``*``, ``**``, ``%`` and ``str.format`` widths, padding filters and
methods: ``ispbill.documents.worker.jinja_environment``). Rendering runs in the render worker
(``ispbill.documents.pool``) with a time, CPU and memory limit, so a slow or explosive
template of one partner costs at most that limit. The context holds only dicts of strings.

The defaults hold English and German; ``language`` (the customer's) chooses the branch."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from ispbill.core.money import Money
from ispbill.documents.i18n import date_format, money_format
from ispbill.documents.pool import (
    RenderLimitError,
    WorkerReplyError,
    limits_current,
    worker_request,
)
from ispbill.documents.render import DocumentRenderLimitError, DocumentTemplateError
from ispbill.invoicing.paylinks import pay_link_url

__all__ = [
    "EMAIL_DEFAULTS",
    "EmailMessageText",
    "EmailTemplateError",
    "email_render",
    "email_sample_context",
    "email_template_validate",
    "invoice_email_context",
    "reminder_email_context",
]

MAX_EMAIL_TEMPLATE_CHARS = 20_000


class EmailTemplateError(DocumentTemplateError):
    """An email template that does not compile, render, or keep to the sandbox."""


class EmailLimitError(EmailTemplateError, DocumentRenderLimitError):
    """An email template broke a limit (time, CPU, memory, output size)."""

    def __init__(self, message: str, *, limit: str, line: int | None = None):
        DocumentTemplateError.__init__(self, message, line=line)
        self.limit = limit


EMAIL_DEFAULTS: dict[str, str] = {
    "email_invoice": """\
{% if language == "de" %}
Subject: Ihre Rechnung {{ invoice.number }} von {{ issuer.name }}

Guten Tag {{ customer.name }},

anbei erhalten Sie Ihre Rechnung {{ invoice.number }} vom {{ invoice.issue_date }}
über {{ invoice.total }}.
{% if invoice.open_amount_raw != "0" %}
Bitte überweisen Sie {{ invoice.open_amount }} bis zum {{ invoice.due_date }}\
{% if issuer.iban %} auf das Konto {{ issuer.iban }}{% endif %} mit dem Verwendungszweck \
{{ invoice.number }}.
{% if invoice.pay_url %}Oder bezahlen Sie online: {{ invoice.pay_url }}
{% endif %}{% else %}
Der Betrag ist bereits beglichen; Sie müssen nichts tun.
{% endif %}

Mit freundlichen Grüßen
{{ issuer.legal_name }}
{% else %}
Subject: Your invoice {{ invoice.number }} from {{ issuer.name }}

Dear {{ customer.name }},

please find attached invoice {{ invoice.number }} of {{ invoice.issue_date }}
for {{ invoice.total }}.
{% if invoice.open_amount_raw != "0" %}
Please pay {{ invoice.open_amount }} by {{ invoice.due_date }}\
{% if issuer.iban %} to IBAN {{ issuer.iban }}{% endif %}, quoting {{ invoice.number }}.
{% if invoice.pay_url %}Or pay online: {{ invoice.pay_url }}
{% endif %}{% else %}
It is already paid; there is nothing for you to do.
{% endif %}

Kind regards,
{{ issuer.legal_name }}
{% endif %}
""",
    "email_reminder": """\
{% if language == "de" %}
Subject: Zahlungserinnerung: Rechnung {{ invoice.number }}

Guten Tag {{ customer.name }},

die Rechnung {{ invoice.number }} vom {{ invoice.issue_date }} war am {{ invoice.due_date }}
fällig; {{ invoice.open_amount }} sind noch offen.
Bitte überweisen Sie den Betrag auf das Konto {{ issuer.iban or "-" }} mit dem \
Verwendungszweck {{ invoice.number }}.
{% if invoice.pay_url %}Oder bezahlen Sie online: {{ invoice.pay_url }}
{% endif %}
Mit freundlichen Grüßen
{{ issuer.legal_name }}
{% else %}
Subject: Payment reminder: invoice {{ invoice.number }}

Dear {{ customer.name }},

invoice {{ invoice.number }} of {{ invoice.issue_date }} was due on {{ invoice.due_date }};
{{ invoice.open_amount }} is still open.
Please transfer it to IBAN {{ issuer.iban or "-" }} quoting {{ invoice.number }}.
{% if invoice.pay_url %}Or pay online: {{ invoice.pay_url }}
{% endif %}
{{ issuer.legal_name }}
{% endif %}
""",
}


_DEFAULT_SOURCES = frozenset(EMAIL_DEFAULTS.values())


class EmailMessageText:
    """A rendered email: subject and plain-text body."""

    __slots__ = ("body", "subject")

    def __init__(self, subject: str, body: str) -> None:
        self.subject = subject
        self.body = body

    def __repr__(self) -> str:
        return f"EmailMessageText(subject={self.subject!r})"


@lru_cache(maxsize=8)
def _default_template(source: str, max_chars: int) -> Any:
    from ispbill.documents.worker import jinja_environment

    return jinja_environment(max_chars).from_string(source)


def email_render(source: str, context: Mapping[str, Any]) -> EmailMessageText:
    """Render an email template with plain ``context`` in the render worker, within the
    email limits (docs/documents.md, "Limits"); raises EmailTemplateError, EmailLimitError
    for a broken limit. The shipped defaults (``EMAIL_DEFAULTS``), which are ours and not a
    user's, render in this process in the same sandboxed environment: no worker round trip,
    and never a limit broken by the machine rather than by the template (a render of a
    fraction of a millisecond was once stopped at 2 s of CPU on a busy machine)."""
    if len(source) > MAX_EMAIL_TEMPLATE_CHARS:
        raise EmailTemplateError(
            f"the email template is longer than {MAX_EMAIL_TEMPLATE_CHARS} characters"
        )
    limits = limits_current()
    if source in _DEFAULT_SOURCES:
        from jinja2 import TemplateError

        try:
            text = _default_template(source, limits.email_chars).render(
                json.loads(json.dumps(dict(context)))
            )
        except TemplateError as exc:  # a context without what the default reads
            raise EmailTemplateError(getattr(exc, "message", None) or str(exc)) from None
        if len(text) > limits.email_chars:
            raise EmailLimitError(
                f"the email is longer than {limits.email_chars} characters", limit="output"
            )
        return _message_text(text)
    header = {"op": "jinja", "max_chars": limits.email_chars, "cpu_seconds": limits.email_seconds}
    blobs = [source.encode("utf-8"), json.dumps(dict(context)).encode("utf-8")]
    try:
        _, out = worker_request(
            header, blobs, seconds=limits.email_seconds, memory_mb=limits.memory_mb
        )
    except RenderLimitError as exc:
        message = exc.message.replace("the template", "the email template")
        raise EmailLimitError(
            f"{message}; emails are limited to {limits.email_seconds:g} s and "
            f"{limits.email_chars} characters",
            limit=exc.limit,
        ) from None
    except WorkerReplyError as exc:
        raise EmailTemplateError(
            exc.reply.get("message") or "the email template failed", line=exc.reply.get("line")
        ) from None
    return _message_text(out[0].decode("utf-8") if out else "")


def _message_text(text: str) -> EmailMessageText:
    lines = text.strip("\n").split("\n")
    first = lines[0].strip() if lines else ""
    if not first.lower().startswith("subject:"):
        raise EmailTemplateError(
            "the email must start with a line 'Subject: ...' followed by the body", line=1
        )
    subject = first[len("subject:") :].strip()
    if not subject:
        raise EmailTemplateError("the subject line is empty", line=1)
    body = "\n".join(lines[1:]).strip("\n") + "\n"
    return EmailMessageText(subject=subject, body=body)


def _money(minor: int, currency: str, language: str) -> str:
    return money_format(str(Money.from_minor(minor, currency).amount), currency, language)


def _issuer(snapshot: Mapping[str, Any]) -> dict[str, str]:
    name = str(snapshot.get("name") or "")
    return {
        "name": name,
        "legal_name": name,
        "email": str(snapshot.get("email") or ""),
        "phone": str(snapshot.get("phone") or ""),
        "website": str(snapshot.get("website") or ""),
        "iban": str(snapshot.get("iban") or ""),
        "bic": str(snapshot.get("bic") or ""),
    }


def _customer(snapshot: Mapping[str, Any]) -> dict[str, str]:
    return {
        "name": str(snapshot.get("name") or ""),
        "company": str(snapshot.get("company") or ""),
        "reference": str(snapshot.get("reference") or ""),
        "email": str(snapshot.get("email") or ""),
    }


def _invoice_context(
    *,
    number: str,
    issue_date: date,
    due_date: date,
    total_minor: int,
    open_minor: int,
    currency: str,
    language: str,
    pay_url: str = "",
) -> dict[str, str]:
    return {
        "pay_url": pay_url if open_minor > 0 else "",
        "number": number,
        "issue_date": date_format(issue_date.isoformat(), language),
        "due_date": date_format(due_date.isoformat(), language),
        "total": _money(total_minor, currency, language),
        "open_amount": _money(open_minor, currency, language),
        "open_amount_raw": str(open_minor),
        "currency": currency,
    }


def invoice_email_context(invoice: Any, *, language: str | None = None) -> dict[str, Any]:
    """The plain data an invoice email template sees."""
    lang = language or ("de" if invoice.customer_snapshot.get("language") == "de" else "en")
    return {
        "language": lang,
        "issuer": _issuer(invoice.issuer_snapshot),
        "customer": _customer(invoice.customer_snapshot),
        "invoice": _invoice_context(
            number=invoice.number,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            total_minor=invoice.total_minor,
            open_minor=invoice.open_minor,
            currency=invoice.currency,
            language=lang,
            pay_url=pay_link_url(invoice.pk) if getattr(invoice, "pk", None) else "",
        ),
    }


def reminder_email_context(
    invoice: Any, *, customer: Any, issuer: Any, days_late: int
) -> dict[str, Any]:
    """The plain data a reminder email template sees: the invoice, the customer and the
    issuer as they are now (their current address and bank details)."""
    lang = "de" if getattr(customer, "language", "") == "de" else "en"
    return {
        "language": lang,
        "days_late": str(days_late),
        "issuer": {
            "name": issuer.name,
            "legal_name": issuer.legal_name or issuer.name,
            "email": issuer.email,
            "phone": issuer.phone,
            "website": issuer.website,
            "iban": issuer.iban,
            "bic": issuer.bic,
        },
        "customer": {
            "name": customer.name,
            "company": customer.company,
            "reference": customer.reference,
            "email": customer.email,
        },
        "invoice": _invoice_context(
            number=invoice.number,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            total_minor=invoice.total_minor,
            open_minor=invoice.open_minor,
            currency=invoice.currency,
            language=lang,
            pay_url=pay_link_url(invoice.pk) if getattr(invoice, "pk", None) else "",
        ),
    }


def email_sample_context(*, document_type: str, language: str) -> dict[str, Any]:
    """Sample data for previews and validation of an email template."""
    return {
        "language": language,
        "days_late": "5" if document_type == "email_reminder" else "0",
        "issuer": {
            "name": "MusterNet",
            "legal_name": "MusterNet GmbH",
            "email": "rechnung@musternet.de",
            "phone": "+49 89 1234560",
            "website": "https://musternet.de",
            "iban": "DE02120300000000202051",
            "bic": "BYLADEM1001",
        },
        "customer": {
            "name": "Anna Schmidt",
            "company": "",
            "reference": "10042",
            "email": "anna.schmidt@example.org",
        },
        "invoice": _invoice_context(
            number="202501000123",
            issue_date=date(2025, 3, 1),
            due_date=date(2025, 3, 15),
            total_minor=11557,
            open_minor=11557,
            currency="EUR",
            language=language,
            pay_url="https://billing.musternet.de/pay/eyJpIjoxMjN9/",
        ),
    }


def email_template_validate(source: str, *, document_type: str) -> None:
    """Raise EmailTemplateError unless ``source`` renders the sample in both languages."""
    for language in ("de", "en"):
        email_render(source, email_sample_context(document_type=document_type, language=language))
