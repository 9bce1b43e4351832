"""Benchmark of a large aggregated invoice: its summary PDF and its line detail CSV.

    AGG_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/ispbill_aggbench \\
        .venv/bin/python bench/aggregated.py --sections 10500 105000

For each size, one aggregated invoice of the realistic benchmark's shape is written straight
into the database (``--sections`` sub-customers of one aggregated partner, 1.52 lines each:
every one a fibre line, every second a static IP, every fiftieth a phone line at 7 %), then,
in a fresh process, rendered and stored through the production path
(``invoices_pdf_render``) and its CSV written (``invoice_detail_csv``). Prints the PDF's
pages and size, the wall clock and the CPU of the calling process and of the render worker,
the worker's peak address space and the caller's peak RSS. The database must exist and be
migrated (``manage.py migrate``); it defaults to a SQLite file in the temporary directory.
docs/documents.md, "Summary of a large aggregated invoice", has the figures.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DATABASE_URL"] = os.environ.get(
    "AGG_BENCH_DATABASE_URL", f"sqlite:///{tempfile.gettempdir()}/ispbill_aggbench.sqlite3"
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ispbill.settings")


def _rss_mb() -> float:
    """Peak RSS of this process (VmHWM: ru_maxrss would carry the parent's across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def populate(sections: int) -> int:
    from ispbill.customers.models import Customer
    from ispbill.invoicing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceTax
    from ispbill.invoicing.snapshots import customer_snapshot, issuer_snapshot
    from ispbill.partners.models import AggregationCycle, Partner, PartnerMode

    home = Partner.objects.get(is_home=True)
    tag = f"{sections}-{int(time.time())}"
    wisp = Partner.objects.create(
        name=f"WISP {tag}",
        legal_name=f"WISP {tag} GmbH",
        mode=PartnerMode.AGGREGATED,
        aggregation_day=5,
        aggregation_cycle=AggregationCycle.MONTHLY,
    )
    account = Customer.objects.create(
        partner=home, reference=f"P{tag}", name=wisp.legal_name, company=wisp.legal_name
    )
    Partner.objects.filter(pk=wisp.pk).update(account=account)
    subs = Customer.objects.bulk_create(
        [
            Customer(partner=wisp, reference=f"K{i:06d}", name=f"Kundin Nummer {i}")
            for i in range(sections)
        ],
        batch_size=5000,
    )
    rows = []
    nets = {1900: 0, 700: 0}
    for i, c in enumerate(subs):
        items = [("Glasfaser 100 (100/20 Mbit/s)", 2100 + (i % 7) * 100, 1900)]
        if i % 2 == 0:
            items.append(("Feste IPv4-Adresse", 500, 1900))
        if i % 50 == 0:
            items.append(("Telefon-Flatrate", 900, 700))
        for description, amount, rate in items:
            rows.append((f"{c.reference} {c.name}", c.pk, description, amount, rate))
            nets[rate] += amount
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    taxes = {rate: (net * rate // 100 + 50) // 100 for rate, net in nets.items()}
    net, tax = sum(nets.values()), sum(taxes.values())
    invoice = Invoice.objects.create(
        partner_id=home.pk,
        issuer=home,
        customer=account,
        kind=InvoiceKind.AGGREGATED,
        number=f"AGG-{tag}",
        billing_date=date(2026, 4, 5),
        issue_date=date(2026, 4, 5),
        due_date=date(2026, 4, 19),
        currency="EUR",
        net_minor=net,
        tax_minor=tax,
        total_minor=net + tax,
        issuer_snapshot=issuer_snapshot(home),
        customer_snapshot=customer_snapshot(account),
    )
    InvoiceLine.objects.bulk_create(
        [
            InvoiceLine(
                invoice=invoice,
                position=position,
                section=title,
                section_customer_id=customer_id,
                description=description,
                period_start=date(2026, 4, 5),
                period_end=date(2026, 5, 4),
                quantity=1,
                unit_price_minor=amount,
                amount_minor=amount,
                tax_rate_bp=rate,
                tax_category="S",
            )
            for position, (title, customer_id, description, amount, rate) in enumerate(rows, 1)
        ],
        batch_size=5000,
    )
    InvoiceTax.objects.bulk_create(
        [
            InvoiceTax(
                invoice=invoice, rate_bp=rate, category="S", net_minor=nets[rate], tax_minor=t
            )
            for rate, t in taxes.items()
        ]
    )
    print(f"{sections:,} sub-customers, {len(rows):,} lines: invoice {invoice.pk}", flush=True)
    return invoice.pk


def measure(pk: int) -> None:
    from pypdf import PdfReader

    from ispbill.documents import pool
    from ispbill.invoicing.detail import invoice_detail_csv
    from ispbill.invoicing.models import Invoice
    from ispbill.invoicing.pdfs import invoices_pdf_render, stored_pdf_read

    start_rss = _rss_mb()
    wall, cpu, worker = time.perf_counter(), time.process_time(), pool.workers_cpu_seconds()
    stats = invoices_pdf_render(invoice_ids=[pk])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    worker = pool.workers_cpu_seconds() - worker
    peak = max(
        int(line.split()[1])
        for w in list(pool._all)
        for line in Path(f"/proc/{w.process.pid}/status").read_text().splitlines()
        if line.startswith("VmPeak")
    )
    invoice = Invoice.objects.get(pk=pk)
    pdf = stored_pdf_read(invoice.pdf) or b""
    pages = len(PdfReader(io.BytesIO(pdf)).pages) if pdf else 0
    print(
        f"  PDF: rendered {stats.rendered}, {pages} pages, {len(pdf) / 1e6:.2f} MB; "
        f"{wall:.2f} s wall, caller CPU {cpu:.2f} s, render worker CPU {worker:.2f} s, "
        f"worker address space {peak / 1024:.0f} MB; caller RSS {start_rss:.0f} -> "
        f"{_rss_mb():.0f} MB; pdf_error {invoice.pdf_error!r}",
        flush=True,
    )
    wall, size = time.perf_counter(), 0
    for chunk in invoice_detail_csv(invoice):
        size += len(chunk.encode("utf-8"))
    print(
        f"  CSV: {size / 1e6:.2f} MB in {time.perf_counter() - wall:.2f} s; caller RSS "
        f"{_rss_mb():.0f} MB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", type=int, nargs="+", default=[10500, 105000])
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    import django

    django.setup()
    from ispbill.core.tenancy import system_scope

    with system_scope():
        if args.measure:
            measure(args.measure)
            return
        for sections in args.sections:
            pk = populate(sections)
            # A fresh process: the caller's peak RSS is the render's, not the writing's.
            subprocess.run([sys.executable, __file__, "--measure", str(pk)], check=True)


if __name__ == "__main__":
    main()
