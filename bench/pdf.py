"""Benchmark of document rendering: one-page invoices with the default template.

Prints ms per invoice (median, p95) rendered one by one and batched, invoices per second on
one core, and the bare Typst renderer on a trivial document as the baseline. With --facturx
it also measures XML building and embedding.

    .venv/bin/python bench/bench_pdf.py [-n 300]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import typst

from ispbill.documents.data import sample_invoice
from ispbill.documents.facturx import facturx_pdf_embed, facturx_xml_build
from ispbill.documents.render import document_pdf_render, document_pdf_render_many


def _documents(n: int) -> list[dict]:
    documents = []
    for index in range(n):
        data = dict(sample_invoice(language="de" if index % 2 else "en"))
        data["document"]["number"] = f"2025010{index:05d}"
        documents.append(data)
    return documents


def _summary(label: str, times: list[float]) -> None:
    ordered = sorted(times)
    median = statistics.median(ordered) * 1000
    p95 = ordered[int(len(ordered) * 0.95) - 1] * 1000
    print(f"{label:<34} median {median:6.2f} ms   p95 {p95:6.2f} ms   {1000 / median:6.0f} /s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--facturx", action="store_true")
    args = parser.parse_args()
    documents = _documents(args.n)
    document_pdf_render(data=documents[0])  # warm up fonts and caches

    # Baseline: the bare renderer on a trivial document.
    root = Path(tempfile.mkdtemp())
    (root / "main.typ").write_text("Hello")
    compiler = typst.Compiler(root=str(root))
    compiler.compile(input=str(root / "main.typ"), format="pdf")
    times = []
    for _ in range(args.n):
        start = time.perf_counter()
        compiler.compile(input=str(root / "main.typ"), format="pdf")
        times.append(time.perf_counter() - start)
    _summary("baseline: trivial Typst document", times)

    times = []
    for data in documents:
        start = time.perf_counter()
        document_pdf_render(data=data)
        times.append(time.perf_counter() - start)
    _summary("invoice, one by one", times)

    start = time.perf_counter()
    cpu = time.process_time()
    count = sum(1 for _ in document_pdf_render_many(documents=documents))
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    print(
        f"{'invoice, batched':<34} mean   {elapsed / count * 1000:6.2f} ms"
        f"                  {count / elapsed:6.0f} /s"
    )
    # CPU time of all threads: what one core would need, whatever else the machine runs.
    print(
        f"{'invoice, batched, CPU time':<34} mean   {cpu / count * 1000:6.2f} ms"
        f"                  {count / cpu:6.0f} /s per core"
    )

    if args.facturx:
        times = []
        for data in documents[:100]:
            pdf = document_pdf_render(data=data)
            start = time.perf_counter()
            facturx_pdf_embed(pdf, facturx_xml_build(data))
            times.append(time.perf_counter() - start)
        _summary("Factur-X XML build + embed", times)


if __name__ == "__main__":
    main()
