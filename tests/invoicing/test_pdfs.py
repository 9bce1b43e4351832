"""PDFs rendered and stored at issue with the issuer's template of that moment, Factur-X
embedded; later template changes never alter them."""

from __future__ import annotations

from datetime import date

import pytest
from facturx import get_facturx_xml_from_pdf

from ispbill.billing.run import billing_run_start
from ispbill.cli import main as cli_main
from ispbill.documents.facturx import facturx_xml_check
from ispbill.invoicing.models import CreditNote, Invoice, InvoiceKind
from ispbill.invoicing.pdfs import credit_note_pdf, invoice_pdf_stored_path
from ispbill.invoicing.sending import invoice_pdf
from ispbill.invoicing.templates import document_template_save
from ispbill.partners.models import AggregationCycle, PartnerMode
from ispbill.payments.credit_notes import credit_note_issue
from tests.factories import (
    CustomerFactory,
    PartnerPriceFactory,
    ServiceFactory,
    TariffFactory,
    TaxRateFactory,
    partner_with_account,
)
from tests.invoicing.conftest import MINIMAL, pdf_text

pytestmark = pytest.mark.django_db
JAN = date(2026, 1, 1)


def _xml_of(pdf: bytes) -> bytes:
    filename, xml = get_facturx_xml_from_pdf(pdf, check_xsd=True)
    assert filename == "factur-x.xml"
    return xml


def test_direct_invoice_is_rendered_after_commit_and_stored(
    home, media, django_capture_on_commit_callbacks
):
    c = CustomerFactory(partner=home, language="de")
    ServiceFactory(customer=c, tariff=TariffFactory(price_minor=3000), start_date=JAN)
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(run_date=JAN)
    inv = Invoice.objects.get(customer=c)
    assert inv.pdf == f"invoices/{home.pk}/2026/{inv.number}.pdf"
    assert inv.pdf == invoice_pdf_stored_path(inv)
    stored = (media / inv.pdf).read_bytes()
    text = pdf_text(stored)
    assert inv.number in text and "Rechnung" in text
    assert "35,70" in text and "5,70" in text  # total and VAT at 19 %
    facturx_xml_check(_xml_of(stored))
    assert invoice_pdf(inv) == stored


def test_a_later_template_change_does_not_alter_a_stored_pdf(
    home, media, django_capture_on_commit_callbacks
):
    c = CustomerFactory(partner=home)
    ServiceFactory(customer=c, tariff=TariffFactory(price_minor=3000), start_date=JAN)
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(run_date=JAN)
    inv = Invoice.objects.get(customer=c)
    before = (media / inv.pdf).read_bytes()
    document_template_save(issuer=home, document_type="invoice", source=MINIMAL)
    # Rendering again (a retried task, the CLI) keeps the stored file.
    from ispbill.invoicing.pdfs import documents_pdf_render_pending, invoices_pdf_render

    assert invoices_pdf_render(invoice_ids=[inv.pk]).rendered == 0
    assert documents_pdf_render_pending().rendered == 0
    assert (media / inv.pdf).read_bytes() == before
    assert invoice_pdf(Invoice.objects.get(pk=inv.pk)) == before
    assert "MARKER" not in pdf_text(before)
    # A new invoice uses the new template.
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(run_date=date(2026, 2, 1))
    feb = Invoice.objects.get(customer=c, billing_date=date(2026, 2, 1))
    assert "MARKER" in pdf_text((media / feb.pdf).read_bytes())


def test_own_invoicing_partner_invoice_uses_its_template_and_validates(
    home, media, django_capture_on_commit_callbacks
):
    own = partner_with_account(
        name="OwnNet",
        mode=PartnerMode.OWN_INVOICING,
        invoice_number_pattern="O-{next|4}",
        vat_id="DE123456789",
        iban="DE02120300000000202051",
    )
    document_template_save(issuer=own, document_type="invoice", source=MINIMAL)
    t = TariffFactory(partner=own, price_minor=2500, tax_rate=TaxRateFactory(partner=own))
    oc = CustomerFactory(partner=own, language="en")
    ServiceFactory(customer=oc, tariff=t, start_date=JAN)
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(run_date=JAN)
    inv = Invoice.objects.get(customer=oc)
    assert inv.issuer_id == own.pk and inv.number == "O-0001"
    assert inv.pdf == f"invoices/{own.pk}/2026/O-0001.pdf"
    stored = (media / inv.pdf).read_bytes()
    text = pdf_text(stored)
    assert "MARKER Invoice O-0001" in text  # the partner's template, in English
    facturx_xml_check(_xml_of(stored))


def test_aggregated_invoice_xml_validates(home, media, django_capture_on_commit_callbacks):
    wisp = partner_with_account(
        name="WISP",
        mode=PartnerMode.AGGREGATED,
        aggregation_day=5,
        aggregation_cycle=AggregationCycle.MONTHLY,
    )
    fiber = TariffFactory(name="Fiber 100", price_minor=2990)
    PartnerPriceFactory(partner=wisp, tariff=fiber, price_minor=2100)
    for ref in ("A1", "B1"):
        ServiceFactory(
            customer=CustomerFactory(partner=wisp, reference=ref),
            tariff=fiber,
            start_date=date(2026, 1, 5),
        )
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(run_date=date(2026, 1, 5))
    inv = Invoice.objects.get(customer=wisp.account)
    assert inv.kind == InvoiceKind.AGGREGATED
    stored = (media / inv.pdf).read_bytes()
    xml = _xml_of(stored)
    facturx_xml_check(xml)
    text = pdf_text(stored)
    assert "A1" in text and "B1" in text and inv.number in text


def test_credit_note_is_rendered_at_issue_with_facturx(
    home, media, django_capture_on_commit_callbacks
):
    c = CustomerFactory(partner=home, language="en")
    ServiceFactory(customer=c, tariff=TariffFactory(price_minor=3000), start_date=JAN)
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(run_date=JAN)
    inv = Invoice.objects.get(customer=c)
    with django_capture_on_commit_callbacks(execute=True):
        cn = credit_note_issue(invoice=inv, on=date(2026, 1, 10), reason="Outage")
    cn = CreditNote.objects.get(pk=cn.pk)
    assert cn.pdf == f"credit_notes/{home.pk}/2026/{cn.number}.pdf"
    stored = (media / cn.pdf).read_bytes()
    text = pdf_text(stored)
    assert "Credit note" in text and cn.number in text and inv.number in text
    xml = _xml_of(stored)
    facturx_xml_check(xml)
    assert b"381" in xml
    assert credit_note_pdf(cn) == stored


def test_setting_off_renders_nothing_and_the_cli_catches_up(
    home, media, settings, django_capture_on_commit_callbacks, capsys
):
    settings.RENDER_PDFS_ON_ISSUE = False
    for _ in range(3):
        c = CustomerFactory(partner=home)
        ServiceFactory(customer=c, tariff=TariffFactory(price_minor=3000), start_date=JAN)
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(run_date=JAN)
    assert set(Invoice.objects.values_list("pdf", flat=True)) == {""}
    assert cli_main(["render-pdfs", "--batch", "2"]) == 0
    out = capsys.readouterr().out
    assert "2/3 documents" in out and "3/3 documents" in out
    assert "Rendered 3 PDFs" in out and "documents/s" in out
    for inv in Invoice.objects.all():
        assert (media / inv.pdf).is_file()
    assert cli_main(["render-pdfs"]) == 0
    assert "Rendered 0 PDFs" in capsys.readouterr().out


def test_a_template_that_fails_on_real_data_falls_back_to_the_default(
    home, media, django_capture_on_commit_callbacks
):
    # Passes the samples but fails on any real invoice.
    source = MINIMAL + '#if d.issuer.name != "MusterNet" { panic("not the sample") }\n'
    document_template_save(issuer=home, document_type="invoice", source=source)
    c = CustomerFactory(partner=home)
    ServiceFactory(customer=c, tariff=TariffFactory(price_minor=3000), start_date=JAN)
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(run_date=JAN)
    inv = Invoice.objects.get(customer=c)
    text = pdf_text((media / inv.pdf).read_bytes())
    assert inv.number in text and "MARKER" not in text


def test_a_stale_file_at_the_path_is_replaced_not_adopted(
    home, media, django_capture_on_commit_callbacks
):
    c = CustomerFactory(partner=home)
    ServiceFactory(customer=c, tariff=TariffFactory(price_minor=3000), start_date=JAN)
    stale = media / f"invoices/{home.pk}/2026/202601000001.pdf"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"%PDF-1.4 stale document of a restored database")
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(run_date=JAN)
    inv = Invoice.objects.get(customer=c)
    assert inv.number == "202601000001"
    assert inv.number in pdf_text((media / inv.pdf).read_bytes())


def test_a_batch_of_invoices_reads_its_data_together_and_writes_the_paths_at_once(
    home, media, settings, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    """The stored-PDF task's batch (docs/performance.md, "PDFs and e-mails"): the queries do
    not grow with the number of invoices, each document gets its own data and its own
    issuer's template, and an invoice that got a PDF meanwhile keeps it."""
    settings.RENDER_PDFS_ON_ISSUE = False
    own = partner_with_account(
        name="OwnNet", mode=PartnerMode.OWN_INVOICING, invoice_number_pattern="O-{next|4}"
    )
    document_template_save(issuer=own, document_type="invoice", source=MINIMAL)
    own_tariff = TariffFactory(partner=own, price_minor=2500, tax_rate=TaxRateFactory(partner=own))
    prices = [1000, 2000, 3000, 4000, 5000]
    for price in prices:
        c = CustomerFactory(partner=home, language="de")
        ServiceFactory(customer=c, tariff=TariffFactory(price_minor=price), start_date=JAN)
    for _ in range(3):
        ServiceFactory(customer=CustomerFactory(partner=own), tariff=own_tariff, start_date=JAN)
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(run_date=JAN)
    invoices = list(Invoice.objects.order_by("pk"))
    assert len(invoices) == 8 and {i.pdf for i in invoices} == {""}
    taken = invoices[0]
    Invoice.objects.filter(pk=taken.pk).update(pdf="invoices/elsewhere.pdf")

    from ispbill.invoicing.pdfs import invoices_pdf_render

    # One read of the invoices; per batch four of document data, and per issuer its assets
    # and template; one write of the paths.
    with django_assert_max_num_queries(12):
        stats = invoices_pdf_render(invoice_ids=[i.pk for i in invoices])
    assert (stats.rendered, stats.failed) == (7, 0)
    assert Invoice.objects.get(pk=taken.pk).pdf == "invoices/elsewhere.pdf"
    for inv in Invoice.objects.exclude(pk=taken.pk).order_by("pk"):
        assert inv.pdf == invoice_pdf_stored_path(inv) and inv.pdf_error == ""
        text = pdf_text((media / inv.pdf).read_bytes())
        assert inv.number in text
        if inv.issuer_id == own.pk:
            assert "MARKER" in text
        else:
            # 19 % VAT on the tariff's price: e.g. 20,00 -> 23,80.
            gross = f"{inv.total_minor // 100},{inv.total_minor % 100:02d}"
            assert "MARKER" not in text and gross in text
    assert sorted(i.total_minor for i in invoices if i.issuer_id == home.pk) == [
        1190,
        2380,
        3570,
        4760,
        5950,
    ]


def test_issued_pdfs_are_dispatched_in_short_tasks(monkeypatch, django_capture_on_commit_callbacks):
    """A billing chunk's thousand invoices go to the workers as tasks of PDF_TASK_SIZE, so
    the workers share them and the run's next chunk waits behind one short task at most."""
    from ispbill.invoicing import tasks

    sent: list[list[int]] = []
    monkeypatch.setattr(tasks.invoices_pdf_render_task, "delay", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.issued_pdfs_render_on_commit(invoice_ids=range(1, 251))
    assert tasks.PDF_TASK_SIZE == 100
    assert [len(ids) for ids in sent] == [100, 100, 50]
    assert [i for ids in sent for i in ids] == list(range(1, 251))
