"""PDFs of issued documents: rendered once with the issuer's template of that moment, stored.

After the issuing transaction commits, a task renders each new invoice and credit note with
its issuer's active template and assets, embeds the EN 16931 XML (Factur-X, PDF/A-3) and
stores the file under MEDIA_ROOT (``invoices/<issuer>/<year>/<number>.pdf``,
``credit_notes/...``); the path goes into the document's ``pdf`` field. A stored PDF is never
rendered again, so later template changes cannot alter it. Other documents (receipts,
statements) are rendered on demand with the issuer's current template.

Every render is bounded (docs/documents.md, "Limits"). An issuer's template that fails or
breaks a limit on a real document degrades only that issuer's documents: the default
template renders them (``pdf_error`` says so), and a template that broke a limit is not
tried again for that issuer until it changes; when even the default fails (an issuer's
asset), the document stays "PDF pending" with the error in ``pdf_error``."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from ispbill.documents.facturx import facturx_type_code
from ispbill.documents.render import (
    DocumentRenderError,
    DocumentRenderLimitError,
    document_pdf_render,
    document_template_default,
)
from ispbill.invoicing.documents import (
    credit_note_document_data,
    invoices_document_data,
)
from ispbill.invoicing.models import CreditNote, Invoice
from ispbill.invoicing.templates import (
    document_template_active,
    issuer_assets,
    issuer_data_with_logo,
)

log = logging.getLogger(__name__)

__all__ = [
    "FACTURX_TYPES",
    "PdfPendingError",
    "PdfRenderStats",
    "credit_note_pdf",
    "credit_notes_pdf_render",
    "documents_pdf_render_pending",
    "invoice_pdf_stored_path",
    "invoices_pdf_render",
    "issuer_document_pdf",
    "issuer_document_pdf_degrading",
    "pdf_store",
    "stored_pdf_read",
]

FACTURX_TYPES = frozenset({"invoice", "aggregated_invoice", "credit_note"})
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass
class PdfRenderStats:
    rendered: int = 0
    failed: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.rendered / self.seconds if self.seconds > 0 else 0.0


def issuer_document_pdf(
    *, issuer_id: int, data: dict[str, Any], template_source: str | None = None
) -> bytes:
    """Render ``data`` with the issuer's active template (or ``template_source``) and only
    that issuer's assets; invoices and credit notes are Factur-X (EN 16931) PDF/A-3b with
    their XML attached, written in one Typst compile."""
    doc_type = data["document"]["type"]
    assets = issuer_assets(issuer_id)
    source = (
        template_source
        if template_source is not None
        else document_template_active(issuer_id, doc_type)
    )
    return document_pdf_render(
        data=issuer_data_with_logo(data, assets),
        template_source=source,
        assets=assets,
        facturx=facturx_type_code(data) is not None,
    )


def _media_root() -> Path:
    return Path(settings.MEDIA_ROOT).resolve()


def stored_pdf_read(relative: str) -> bytes | None:
    """The bytes of a stored PDF, or None when the path is empty, missing or escapes
    MEDIA_ROOT."""
    if not relative:
        return None
    root = _media_root()
    path = (root / relative).resolve()
    if path.is_relative_to(root) and path.is_file():
        return path.read_bytes()
    return None


def _relative_path(folder: str, issuer_id: int, year: int, number: str) -> str:
    safe = _UNSAFE.sub("_", number).lstrip(".") or "document"
    return f"{folder}/{issuer_id}/{year}/{safe}.pdf"


def invoice_pdf_stored_path(invoice: Invoice) -> str:
    return _relative_path("invoices", invoice.issuer_id, invoice.issue_date.year, invoice.number)


def pdf_store(relative: str, content: bytes) -> None:
    """Write a document's PDF to ``relative`` under MEDIA_ROOT (atomically)."""
    _write(relative, content)


def _write(relative: str, content: bytes) -> None:
    path = _media_root() / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".render-", suffix=".pdf")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# How long a template that broke a limit is skipped for its issuer's further documents
# (it is keyed by the template's and assets' content, so saving a new one tries it at once).
OVER_LIMIT_SECONDS = 24 * 3600


class PdfPendingError(DocumentRenderError):
    """Neither the issuer's template nor the default rendered the document: it stays without
    a PDF, with this message in ``pdf_error``."""


def _over_limit_key(issuer_id: int, source: str, assets: dict[str, bytes]) -> str:
    digest = hashlib.sha256(source.encode("utf-8"))
    for name in sorted(assets):
        digest.update(name.encode() + b"\0" + hashlib.sha256(assets[name]).digest())
    return f"ispbill:template-over-limit:{issuer_id}:{digest.hexdigest()}"


def issuer_document_pdf_degrading(
    *,
    issuer_id: int,
    data: dict[str, Any],
    label: str = "",
    templates: dict[tuple[int, str], tuple[dict[str, bytes], str]] | None = None,
) -> tuple[bytes, str]:
    """The PDF of ``data`` and what went wrong ("" when the issuer's template rendered it).

    The issuer's active template first; if it fails on this real document (it passed the
    sample when saved) or breaks a limit, the default template with the issuer's assets, so
    the customer still gets a correct document. A template that broke a limit is remembered
    (``OVER_LIMIT_SECONDS``) and goes straight to the default for that issuer's further
    documents, so a run never waits on it twice. Raises PdfPendingError when the default
    fails too. ``templates`` keeps each issuer's assets and active template by (issuer,
    document type) across the calls of one batch, read once."""
    doc_type = data["document"]["type"]
    key = (issuer_id, doc_type)
    if templates is not None and key in templates:
        assets, source = templates[key]
    else:
        assets = issuer_assets(issuer_id)
        source = document_template_active(issuer_id, doc_type)
        if templates is not None:
            templates[key] = (assets, source)
    default = document_template_default(doc_type)
    facturx = facturx_type_code(data) is not None
    note = ""
    if source != default:
        over_limit = _over_limit_key(issuer_id, source, assets)
        known = cache.get(over_limit)
        if known is None:
            try:
                pdf = document_pdf_render(
                    data=issuer_data_with_logo(data, assets),
                    template_source=source,
                    assets=assets,
                    facturx=facturx,
                )
                return pdf, ""
            except DocumentRenderError as exc:
                known = str(exc)
                if isinstance(exc, DocumentRenderLimitError):
                    cache.set(over_limit, known, OVER_LIMIT_SECONDS)
        log.warning(
            "document.render_fallback",
            extra={"document": label, "issuer_id": issuer_id, "error": known},
        )
        note = f"Rendered with the default template: the issuer's template failed: {known}"
    try:
        pdf = document_pdf_render(
            data=issuer_data_with_logo(data, assets),
            template_source=default,
            assets=assets,
            facturx=facturx,
        )
    except DocumentRenderError as exc:
        prefix = f"{note}; " if note else ""
        raise PdfPendingError(
            f"PDF pending: {prefix}the default template failed too: {exc}. Fix or remove the "
            "issuer's template or assets, then run `ispbill render-pdfs`."
        ) from None
    return pdf, note


def _store(
    model: type[Invoice] | type[CreditNote],
    pk: int,
    relative: str,
    render: Callable[[], tuple[bytes, str]],
) -> bool:
    """Render and store one document unless it has a PDF already. True when it now has one
    that this call stored. A render that fails leaves the document without a PDF and its
    error in ``pdf_error`` (shown where the document is shown)."""
    if model.objects.filter(pk=pk).exclude(pdf="").exists():
        return False
    try:
        content, note = render()
    except DocumentRenderError as exc:
        model.objects.filter(pk=pk, pdf="").update(pdf_error=str(exc)[:1000])
        raise
    # A file at the path that no document points to is stale (an interrupted task, a database
    # restored without its media): it is replaced, never adopted.
    _write(relative, content)
    # Only a document without a PDF gets one: a concurrent task's path is never replaced.
    return bool(model.objects.filter(pk=pk, pdf="").update(pdf=relative, pdf_error=note[:1000]))


def _credit_note_pdf(note: CreditNote) -> tuple[bytes, str]:
    return issuer_document_pdf_degrading(
        issuer_id=note.issuer_id, data=credit_note_document_data(note), label=note.number
    )


# Invoices whose document data is read together and whose paths are written in one
# statement (a billing chunk's task gets up to BILLING_CHUNK_SIZE of them).
PDF_BATCH = 200


def invoices_pdf_render(*, invoice_ids: Iterable[int]) -> PdfRenderStats:
    """Render and store the PDFs of issued invoices that have none yet, in batches of
    ``PDF_BATCH``: the batch's document data read together (``invoices_document_data``: four
    queries), each issuer's template and assets read once, one Typst compile per invoice
    (docs/performance.md, "PDFs and e-mails"), the files written, then every path in one
    statement that sets only documents still without a PDF (a concurrent task's path is never
    replaced). An invoice that fails to render keeps no PDF, its error in ``pdf_error``."""
    stats = PdfRenderStats()
    start = time.perf_counter()
    invoices = list(Invoice.objects.filter(pk__in=list(invoice_ids), pdf="").order_by("pk"))
    templates: dict[tuple[int, str], tuple[dict[str, bytes], str]] = {}
    for i in range(0, len(invoices), PDF_BATCH):
        batch = invoices[i : i + PDF_BATCH]
        documents = invoices_document_data(batch)
        stored: dict[int, tuple[str, str]] = {}
        errors: dict[int, str] = {}
        for inv in batch:
            try:
                content, note = issuer_document_pdf_degrading(
                    issuer_id=inv.issuer_id,
                    data=documents[inv.pk],
                    label=inv.number,
                    templates=templates,
                )
                relative = invoice_pdf_stored_path(inv)
                # A file at the path that no document points to is stale (an interrupted
                # task, a database restored without its media): replaced, never adopted.
                _write(relative, content)
            except Exception as exc:
                stats.failed += 1
                if isinstance(exc, DocumentRenderError):
                    errors[inv.pk] = str(exc)[:1000]
                log.exception("invoice.pdf_failed", extra={"invoice_id": inv.pk})
                continue
            stored[inv.pk] = (relative, note[:1000])
        stats.rendered += _paths_set(Invoice, stored)
        for pk, error in errors.items():
            Invoice.objects.filter(pk=pk, pdf="").update(pdf_error=error)
    stats.seconds = time.perf_counter() - start
    return stats


def _paths_set(model: type[Invoice] | type[CreditNote], paths: dict[int, tuple[str, str]]) -> int:
    """Set ``pdf`` and ``pdf_error`` of the documents in ``paths`` (id -> (path, note)) that
    have no PDF yet, in one statement; returns how many were set."""
    if not paths:
        return 0
    table = connection.ops.quote_name(model._meta.db_table)
    ids = list(paths)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                f"UPDATE {table} AS t SET pdf = v.pdf, pdf_error = v.note "  # noqa: S608 - the model's table
                "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, pdf, note) "
                "WHERE t.id = v.id AND t.pdf = ''",
                [ids, [paths[pk][0] for pk in ids], [paths[pk][1] for pk in ids]],
            )
            return int(cur.rowcount)
        cur.executemany(
            f"UPDATE {table} SET pdf = %s, pdf_error = %s WHERE id = %s AND pdf = ''",  # noqa: S608 - the model's table
            [(paths[pk][0], paths[pk][1], pk) for pk in ids],
        )
        return int(cur.rowcount)


def credit_notes_pdf_render(*, credit_note_ids: Iterable[int]) -> PdfRenderStats:
    """Render and store the PDFs of issued credit notes that have none yet."""
    stats = PdfRenderStats()
    start = time.perf_counter()
    for cn in CreditNote.objects.filter(pk__in=list(credit_note_ids), pdf="").order_by("pk"):
        relative = _relative_path("credit_notes", cn.issuer_id, cn.issue_date.year, cn.number)
        try:
            done = _store(
                CreditNote,
                cn.pk,
                relative,
                functools.partial(_credit_note_pdf, cn),
            )
        except Exception:
            stats.failed += 1
            log.exception("credit_note.pdf_failed", extra={"credit_note_id": cn.pk})
            continue
        stats.rendered += int(done)
    stats.seconds = time.perf_counter() - start
    return stats


def credit_note_pdf(credit_note: CreditNote) -> bytes:
    """The stored PDF of a credit note, or rendered now (not stored) from its own data."""
    stored = stored_pdf_read(credit_note.pdf)
    if stored is not None:
        return stored
    return issuer_document_pdf_degrading(
        issuer_id=credit_note.issuer_id,
        data=credit_note_document_data(credit_note),
        label=credit_note.number,
    )[0]


def documents_pdf_render_pending(
    *,
    batch: int = 200,
    progress: Callable[[int, int, PdfRenderStats], None] | None = None,
) -> PdfRenderStats:
    """Render every issued invoice and credit note without a stored PDF; ``progress`` is
    called after each batch with (done, total, stats so far)."""
    invoice_ids = list(Invoice.objects.filter(pdf="").order_by("pk").values_list("pk", flat=True))
    credit_ids = list(CreditNote.objects.filter(pdf="").order_by("pk").values_list("pk", flat=True))
    total = len(invoice_ids) + len(credit_ids)
    stats = PdfRenderStats()
    start = time.perf_counter()
    done = 0
    work: list[tuple[str, list[int]]] = [
        *(("invoice", invoice_ids[i : i + batch]) for i in range(0, len(invoice_ids), batch)),
        *(("credit_note", credit_ids[i : i + batch]) for i in range(0, len(credit_ids), batch)),
    ]
    for kind, ids in work:
        part = (
            invoices_pdf_render(invoice_ids=ids)
            if kind == "invoice"
            else credit_notes_pdf_render(credit_note_ids=ids)
        )
        stats.rendered += part.rendered
        stats.failed += part.failed
        done += len(ids)
        stats.seconds = time.perf_counter() - start
        if progress is not None:
            progress(done, total, stats)
    stats.seconds = time.perf_counter() - start
    return stats
