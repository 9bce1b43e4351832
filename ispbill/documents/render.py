"""Typst rendering of documents: plain data and a template in, PDF bytes out.

Typst compiles with a root directory that holds only the document being rendered:

    main.typ      the template
    data.json     the document data, enriched with formatted values and the fixed texts
    qr.png        the EPC payment QR code, when one belongs on the document
    factur-x.xml  the EN 16931 invoice XML, for Factur-X documents
    <asset>       the issuer's assets (logo, fonts), flat, by their validated names

Typst runs in a render worker process (``pool.py``, ``worker.py``) with a time, CPU, memory,
page and size limit; each thread of the caller keeps one warm worker, whose private root
(``mkdtemp``, mode 0700) is made to hold exactly one document's files before a compile, its
data files removed right after. Typst refuses every path outside its root, so a template sees
nothing but its own document. Package imports (which would download from the network),
``include``/``import``/``read`` of anything but the template's own ``.typ`` parts, and ``eval``
(which could build an import at run time) are refused before compiling, and assets are checked
by content (fonts parsed, images decoded); see docs/documents.md for the whole safety model.

Factur-X documents (``facturx=True``) are compiled as PDF/A-3b with the XML attached by Typst
(``pdf.attach``, AFRelationship Data); facturx_xmp_complete then adds the Factur-X XMP.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

from ispbill.core.errors import DomainError
from ispbill.documents.assets import asset_content_refusal
from ispbill.documents.data import document_data_check, document_samples
from ispbill.documents.epc_qr import epc_qr_payload_for_document, epc_qr_png
from ispbill.documents.facturx import (
    FACTURX_FILENAME,
    FacturxError,
    facturx_xml_build,
    facturx_xmp_complete,
)
from ispbill.documents.i18n import (
    date_format,
    decimal_format,
    document_texts,
    line_adjustment_text,
    money_format,
    percent_format,
)
from ispbill.documents.pool import (
    RenderLimitError,
    WorkerReplyError,
    limits_current,
    worker_request,
)

RESERVED_NAMES = frozenset({"main.typ", "data.json", "qr.png", FACTURX_FILENAME})
MAX_TEMPLATE_CHARS = 200_000
MAX_ASSET_BYTES = 5_000_000
_ASSET_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
_LOCATION_RE = re.compile(r"main\.typ:(\d+):(\d+)")
# `import`/`include` is allowed only with the literal name of one of the template's own parts
# (a `.typ` asset, no folders): `#import "parts.typ": x`; `read` likewise: `read("parts.typ")`.
_IMPORT_WORD_RE = re.compile(r"(?<![\w-])(import|include|read)(?![\w-])")
_PART_NAME = r'"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.typ"'
_IMPORT_OK_RE = re.compile(r"\s+" + _PART_NAME)
_READ_OK_RE = re.compile(r"\(\s*" + _PART_NAME + r"\s*\)")
_FORBIDDEN_RE = re.compile(r"(?<![\w-])(eval|std|plugin)(?![\w-])")
_DOCUMENT_TEMPLATES = {
    "invoice": "invoice.typ",
    "credit_note": "invoice.typ",
    "aggregated_invoice": "invoice.typ",
    "commission_statement": "statement.typ",
    "customer_statement": "statement.typ",
    "receipt": "statement.typ",
}


class DocumentRenderError(DomainError):
    """A document could not be rendered; ``line`` and ``column`` point into the template."""

    code = "document_render"

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None):
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(f"{where}{message}")
        self.message = message
        self.line = line
        self.column = column


class DocumentTemplateError(DocumentRenderError):
    """The template is refused: it does not compile or uses something templates may not use."""

    code = "document_template"


class DocumentRenderLimitError(DocumentTemplateError):
    """The template broke a render limit (time, CPU, memory, pages, size); ``limit`` names it.
    docs/documents.md, "Limits"."""

    code = "document_limit"

    def __init__(self, message: str, *, limit: str):
        super().__init__(message)
        self.limit = limit


@dataclass(frozen=True)
class _Prepared:
    json_bytes: bytes
    qr_png: bytes | None
    timestamp: datetime
    facturx_xml: bytes | None


def document_template_default(document_type: str) -> str:
    """The source of the default template for a document type."""
    try:
        name = _DOCUMENT_TEMPLATES[document_type]
    except KeyError:
        raise DocumentRenderError(f"no template for document type {document_type!r}") from None
    return _default_source(name)


_default_cache: dict[str, str] = {}


def _default_source(name: str) -> str:
    if name not in _default_cache:
        path = resources.files("ispbill.documents").joinpath("templates", name)
        _default_cache[name] = path.read_text(encoding="utf-8")
    return _default_cache[name]


def document_template_check(source: str) -> None:
    """Refuse, before compiling, what a template must not do: packages, eval, plugins.

    ``@preview`` packages would be downloaded from the network, and ``eval`` (reachable as
    ``eval`` or through the ``std`` module) could assemble such an import from strings at run
    time. So `import`/`include` takes only a literal relative path, and the words `eval`,
    `std` and `plugin` may not appear. The check is on words, so it also refuses them in plain
    text and comments; text that needs such a word takes it from the data (``text``) instead.
    A template that passed is remembered, so rendering many documents checks it once.
    """
    _template_checked(source)


@functools.lru_cache(maxsize=64)
def _template_checked(source: str) -> bool:
    # Only templates that pass are cached: a refused one raises again on every call.
    if len(source) > MAX_TEMPLATE_CHARS:
        raise DocumentTemplateError(f"the template is longer than {MAX_TEMPLATE_CHARS} characters")
    for match in _IMPORT_WORD_RE.finditer(source):
        word = match.group(1)
        allowed = _READ_OK_RE if word == "read" else _IMPORT_OK_RE
        if not allowed.match(source, match.end()):
            line, column = _position(source, match.start())
            example = 'read("parts.typ")' if word == "read" else '#import "parts.typ": *'
            raise DocumentTemplateError(
                f"`{word}` may only load one of this template's own parts (a .typ file) by its "
                f"literal name, e.g. {example}; packages, other files and computed paths are "
                "not allowed",
                line=line,
                column=column,
            )
    forbidden = _FORBIDDEN_RE.search(source)
    if forbidden:
        line, column = _position(source, forbidden.start())
        raise DocumentTemplateError(
            f"`{forbidden.group(1)}` is not allowed in document templates", line=line, column=column
        )
    return True


def _position(source: str, index: int) -> tuple[int, int]:
    line = source.count("\n", 0, index) + 1
    column = index - (source.rfind("\n", 0, index) + 1) + 1
    return line, column


def _assets_check(assets: dict[str, bytes] | None) -> dict[str, bytes]:
    checked: dict[str, bytes] = {}
    for name, content in (assets or {}).items():
        if not _ASSET_NAME_RE.match(name) or ".." in name or name in RESERVED_NAMES:
            raise DocumentRenderError(
                f"asset name {name!r} is not allowed: use letters, digits, '.', '_' and '-' only"
            )
        if not isinstance(content, bytes):
            raise DocumentRenderError(f"asset {name!r} must be bytes")
        if len(content) > MAX_ASSET_BYTES:
            raise DocumentRenderError(f"asset {name!r} is larger than {MAX_ASSET_BYTES} bytes")
        if name.endswith(".typ"):
            # An importable part of the template obeys the template's rules.
            document_template_check(content.decode("utf-8", errors="replace"))
        else:
            # Checked by content where it is used too (an asset stored before the upload
            # check existed, or written around it): a font must be a font, an image an image.
            refusal = asset_content_refusal(name, content)
            if refusal:
                raise DocumentRenderError(f"asset {name!r}: {refusal}")
        checked[name] = content
    return checked


# --- the data handed to templates ------------------------------------------------------------


def _period(start: str | None, end: str | None, language: str) -> str:
    if not start:
        return ""
    if not end or end == start:
        return date_format(start, language)
    return f"{date_format(start, language)} – {date_format(end, language)}"


def document_template_input(data: dict[str, Any]) -> dict[str, Any]:
    """What a template receives as ``json("data.json")``: the data plus formatted values.

    Every dict that carries numbers or dates gets a ``fmt`` dict with the same keys formatted
    for the document's language ("1.234,50 €", "19 %", "01.03.2025"); lines and documents also
    get ``fmt.period``. ``text`` holds the fixed texts, ``qr`` the QR code file name or none.
    ``data`` is left as it was; the result shares its dicts that get no ``fmt`` (issuer,
    recipient, a line's adjustment), so it is for reading and serializing only.
    """
    # Copies of the containers that get a ``fmt`` only: a deep copy of the whole document
    # was half of this function's time (docs/performance.md, "PDF rendering").
    out = dict(data)
    out["document"] = dict(data["document"])
    out["totals"] = dict(data["totals"])
    for key in ("lines", "sections", "tax_breakdown", "entries"):
        if key in data:
            out[key] = [dict(item) for item in data[key]]
    head = out["document"]
    lang: str = head["language"]
    cur: str = head["currency"]
    text = document_texts(lang)

    def money(value: str | None) -> str:
        return money_format(value, cur, lang) if value is not None else ""

    head["fmt"] = {
        "title": (
            text["self_billing"]
            if head.get("self_billing")
            else text.get(head["type"], head["type"])
        ),
        "issue_date": date_format(head["issue_date"], lang),
        "due_date": date_format(head["due_date"], lang) if head.get("due_date") else "",
        "period": _period(head.get("period_start"), head.get("period_end"), lang),
        "original_issue_date": (
            date_format(head["original_issue_date"], lang)
            if head.get("original_issue_date")
            else ""
        ),
    }
    if head.get("summary"):
        # A summary's lines are in its CSV file, never in the PDF (docs/documents.md,
        # "Summary of a large aggregated invoice"): the template gets none, only the sections.
        out["lines"] = []
        if not head.get("sections_listed", True):
            out["sections"] = []
        counts = {
            "lines": decimal_format(str(head.get("detail_lines", 0)), lang),
            "sections": decimal_format(str(head.get("detail_sections", 0)), lang),
        }
        head["fmt"]["summary_count"] = text["summary_count"].format(**counts)
        head["fmt"]["detail_note"] = text["detail_note"].format(file=head.get("detail_file", ""))
    for line in out.get("lines", []):
        period = _period(line.get("period_start"), line.get("period_end"), lang)
        adjustment = line_adjustment_text(line.get("adjustment"), lang)
        line["fmt"] = {
            "quantity": decimal_format(line["quantity"], lang),
            "unit_price": money(line["unit_price"]),
            "amount": money(line["amount"]),
            "tax_rate": percent_format(line["tax_rate"], lang),
            "period": period,
            "adjustment": adjustment,
            "note": " · ".join(part for part in (period, adjustment) if part),
        }
    for section in out.get("sections", []):
        section["fmt"] = {"subtotal": money(section["subtotal"])}
        if "line_count" in section:
            section["fmt"]["line_count"] = decimal_format(str(section["line_count"]), lang)
    for row in out.get("tax_breakdown", []):
        rate = percent_format(row["rate"], lang)
        net = money(row["net"])
        row["fmt"] = {
            "rate": rate,
            "net": net,
            "tax": money(row["tax"]),
            "label": text["vat_on"].format(rate=rate, net=net),
            "included_label": text["included_vat"].format(rate=rate, net=net),
        }
    out["totals"]["fmt"] = {key: money(value) for key, value in out["totals"].items()}
    for entry in out.get("entries", []):
        keys = ("base", "debit", "credit", "amount", "balance")
        fmt = {key: money(entry[key]) for key in keys if entry.get(key) is not None}
        fmt["date"] = date_format(entry["date"], lang)
        if entry.get("percent") is not None:
            fmt["percent"] = percent_format(entry["percent"], lang)
        entry["fmt"] = fmt
    qr_payload = epc_qr_payload_for_document(data)
    out["qr"] = "qr.png" if qr_payload else None
    out["text"] = text
    out["payment_text"] = _payment_text(data, text, money)
    return out


def _payment_text(data: dict[str, Any], text: dict[str, str], money: Any) -> str:
    head = data["document"]
    totals = data.get("totals", {})
    if head["type"] == "credit_note":
        return text["credit_refund"]
    if head["type"] == "receipt" and totals.get("closing_balance") is not None:
        closing = Decimal(totals["closing_balance"])
        if closing < 0:
            return text["receipt_owed"].format(amount=money(str(-closing)))
        if closing > 0:
            return text["receipt_credit"].format(amount=money(str(closing)))
        return text["receipt_settled"]
    if head["type"] not in ("invoice", "aggregated_invoice"):
        return ""
    due = totals.get("due", "0")
    if due.lstrip("-").strip("0.") == "" or due.startswith("-"):
        return text["nothing_due"]
    debit = head.get("direct_debit")
    if debit:
        return text["direct_debit"].format(
            amount=money(due),
            date=date_format(debit["collection_date"], head["language"]),
            iban=debit["debtor_iban"],
            mandate=debit["mandate_reference"],
            creditor_id=debit["creditor_id"],
        )
    reference = head.get("payment_reference") or head["number"]
    if head.get("due_date"):
        return text["pay_until"].format(
            amount=money(due),
            date=date_format(head["due_date"], head["language"]),
            reference=reference,
        )
    return text["pay_now"].format(amount=money(due), reference=reference)


def _prepare(data: dict[str, Any], *, facturx: bool = False) -> _Prepared:
    document_data_check(data)
    payload = epc_qr_payload_for_document(data)
    issued = date.fromisoformat(data["document"]["issue_date"])
    return _Prepared(
        json_bytes=json.dumps(document_template_input(data), ensure_ascii=False).encode("utf-8"),
        qr_png=epc_qr_png(payload) if payload else None,
        # A fixed creation date makes the PDF a function of its inputs.
        timestamp=datetime(issued.year, issued.month, issued.day, tzinfo=UTC),
        facturx_xml=facturx_xml_build(data) if facturx else None,
    )


# --- compiling ---------------------------------------------------------------------------------

# Appended to the template of a Factur-X document. `std` cannot be shadowed by a template (the
# word is refused by document_template_check), so this always reaches Typst's own `pdf.attach`.
_FACTURX_ATTACH = (
    '\n#std.pdf.attach("factur-x.xml", relationship: "data", mime-type: "text/xml", '
    'description: "Factur-X invoice (EN 16931)")\n'
)
# Removed from the worker's root right after each compile.
_DOCUMENT_FILES = ("data.json", "qr.png", FACTURX_FILENAME)


def _document_files(
    *, source: str, prepared: _Prepared, assets: dict[str, bytes]
) -> dict[str, bytes]:
    files = dict(assets)
    if prepared.facturx_xml is not None:
        source += _FACTURX_ATTACH
        files[FACTURX_FILENAME] = prepared.facturx_xml
    files["main.typ"] = source.encode("utf-8")
    files["data.json"] = prepared.json_bytes
    if prepared.qr_png is not None:
        files["qr.png"] = prepared.qr_png
    return files


def _compile(*, files: dict[str, bytes], prepared: _Prepared) -> bytes:
    """Compile in this thread's render worker, within the limits (docs/documents.md,
    "Limits"): the worker's root holds exactly ``files``, the document's data files are
    removed after the compile, and Typst refuses every path outside that root."""
    limits = limits_current()
    header: dict[str, Any] = {
        "op": "typst",
        "names": list(files),
        "timestamp": prepared.timestamp.isoformat(),
        "pdf_standards": ["a-3b"] if prepared.facturx_xml is not None else [],
        "transient": list(_DOCUMENT_FILES),
        "max_pages": limits.pages,
        "max_bytes": limits.pdf_mb * 1_000_000,
        "cpu_seconds": limits.cpu_seconds,
    }
    try:
        _, blobs = worker_request(
            header, list(files.values()), seconds=limits.seconds, memory_mb=limits.memory_mb
        )
    except RenderLimitError as exc:
        raise DocumentRenderLimitError(
            f"{exc.message}; templates are limited to {limits.seconds:g} s, "
            f"{limits.memory_mb} MB and {limits.pages} pages per document",
            limit=exc.limit,
        ) from None
    except WorkerReplyError as exc:
        raise _template_error(exc.reply) from None
    pdf = blobs[0] if blobs else b""
    if not pdf.startswith(b"%PDF"):
        raise DocumentRenderError("Typst returned no PDF")
    if prepared.facturx_xml is not None:
        try:
            pdf = facturx_xmp_complete(pdf)
        except FacturxError as exc:
            raise DocumentRenderError(f"the Factur-X PDF could not be completed: {exc}") from exc
    return pdf


def _template_error(reply: dict[str, Any]) -> DocumentTemplateError:
    message = reply.get("message") or "the template failed"
    found = _LOCATION_RE.search(reply.get("diagnostic") or "")
    hints = [hint for hint in reply.get("hints") or [] if hint]
    if hints:
        message = f"{message} (hint: {'; '.join(hints)})"
    if found:
        return DocumentTemplateError(message, line=int(found.group(1)), column=int(found.group(2)))
    return DocumentTemplateError(message)


def document_pdf_render(
    *,
    data: dict[str, Any],
    template_source: str | None = None,
    assets: dict[str, bytes] | None = None,
    facturx: bool = False,
) -> bytes:
    """Render one document to PDF bytes.

    ``data`` follows the data model in data.py; ``template_source`` defaults to the default
    template for the document's type; ``assets`` maps file names (e.g. "logo.png", named in
    ``issuer.logo``) to their bytes. With ``facturx`` (invoices, aggregated invoices, credit
    notes) the PDF is a Factur-X EN 16931 PDF/A-3b: Typst writes PDF/A-3b with the invoice
    XML attached as ``factur-x.xml`` and facturx_xmp_complete adds the Factur-X metadata.
    Raises DocumentTemplateError for a template that is refused or fails, with
    ``line``/``column`` when Typst reports them.
    """
    source = template_source or document_template_default(data["document"]["type"])
    document_template_check(source)
    checked = _assets_check(assets)
    prepared = _prepare(data, facturx=facturx)
    files = _document_files(source=source, prepared=prepared, assets=checked)
    return _compile(files=files, prepared=prepared)


def document_pdf_render_many(
    *,
    documents: Iterable[dict[str, Any]],
    template_source: str | None = None,
    assets: dict[str, bytes] | None = None,
    facturx: bool = False,
) -> Iterator[bytes]:
    """Render many documents of one issuer with one template, yielding PDFs in order.

    The template and assets are checked once and the Typst compiler stays warm; the root
    holds one document at a time, so documents cannot see each other.
    """
    checked = _assets_check(assets)
    for data in documents:
        source = template_source or document_template_default(data["document"]["type"])
        document_template_check(source)
        prepared = _prepare(data, facturx=facturx)
        files = _document_files(source=source, prepared=prepared, assets=checked)
        yield _compile(files=files, prepared=prepared)


def document_template_validate(
    source: str,
    *,
    document_type: str = "invoice",
    assets: dict[str, bytes] | None = None,
) -> None:
    """Raise DocumentTemplateError (with line and message) unless ``source`` renders the sample.

    Call this before saving an edited template; the previous template stays in use when it
    raises. Both languages are rendered, so a text missing in one of them is found too.
    """
    for sample in document_samples(document_type=document_type):
        document_pdf_render(data=sample, template_source=source, assets=assets)
