"""The pre-notification as printed (PDF, Factur-X), the command line of the collection run
and of returns, and the mandate CSV import."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from ispbill.billing.run import billing_run_start
from ispbill.cli import main
from ispbill.core.invariants import invariants_check
from ispbill.dataio.mandate_import import mandates_import
from ispbill.documents.data import sample_invoice
from ispbill.documents.facturx import facturx_xml_build, facturx_xml_check
from ispbill.documents.i18n import date_format
from ispbill.documents.render import document_pdf_render
from ispbill.invoicing.models import Invoice
from ispbill.sepa.models import Collection, Debit, Mandate
from tests.billing.builders import customer, service, tariff
from tests.sepa.helpers import DEBTOR_IBANS, camt054_return, creditor, mandate, pain008_valid

DEBIT = {
    "collection_date": "2026-03-16",
    "mandate_reference": "10042-1",
    "creditor_id": "DE98ZZZ09999999999",
    "debtor_iban": "DE02 **** **** **** **20 51",
}


def test_the_invoice_pdf_announces_the_debit_instead_of_asking_for_a_transfer():
    data = sample_invoice(language="en")
    data["document"]["direct_debit"] = dict(DEBIT)  # type: ignore[typeddict-item]
    pdf = document_pdf_render(data=data, facturx=True)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    text = " ".join(text.split())
    assert "SEPA direct debit" in text and "10042-1" in text and "DE98ZZZ09999999999" in text
    assert date_format("2026-03-16", "en") in text
    assert "Please transfer" not in text
    xml = facturx_xml_build(data)
    facturx_xml_check(xml)  # EN 16931 XSD
    assert b"<ram:TypeCode>59</ram:TypeCode>" in xml
    assert b"<ram:CreditorReferenceID>DE98ZZZ09999999999</ram:CreditorReferenceID>" in xml
    assert b"<ram:DirectDebitMandateID>10042-1</ram:DirectDebitMandateID>" in xml


@pytest.mark.django_db
def test_collect_and_collect_returns_on_the_command_line(home, tmp_path: Path, capsys):
    creditor(home)
    anna = customer()
    service(anna, tariff(price=3000), date(2026, 3, 1))
    mandate(anna)
    billing_run_start(run_date=date(2026, 3, 1))
    assert main(["collect", "--date", "2026-03-12", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "FRST" in out and "35.70" in out and "nothing was written" in out
    assert not Collection.objects.exists()
    assert main(["collect", "--date", "2026-03-12", "-o", str(tmp_path)]) == 0
    batch = Collection.objects.get()
    pain008_valid((tmp_path / f"{batch.message_id}.xml").read_bytes())
    assert main(["collect", "--date", "2026-03-12", "-o", str(tmp_path)]) == 0
    assert "Nothing to collect." in capsys.readouterr().out
    assert main(["collect", "--date", "2026-03-12", "--until", "2026-03-01"]) == 2

    from ispbill.sepa.collection import collection_collect, collection_submit

    collection_collect(batch=collection_submit(batch=batch))
    e2e = Debit.objects.get().end_to_end_id
    returns = tmp_path / "camt054.xml"
    returns.write_bytes(
        camt054_return(end_to_end_id=e2e, amount="35.70", reason="MD06", booked=date(2026, 3, 20))
    )
    assert main(["collect-returns", str(returns)]) == 0
    assert "1 booked" in capsys.readouterr().out
    assert Invoice.objects.get(customer=anna).status == "unpaid"
    assert Mandate.objects.get().status == "active"  # MD06: a refund request keeps it
    not_xml = tmp_path / "x.xml"
    not_xml.write_bytes(b"not xml")
    assert main(["collect-returns", str(not_xml)]) == 1
    assert invariants_check()[1] == []


@pytest.mark.django_db
def test_mandates_import_is_all_or_nothing(home):
    creditor(home)
    a, b = customer(), customer()
    good = (
        "customer;iban;signature_date;reference\n"
        f"{a.reference};{DEBTOR_IBANS[0]};2026-01-10;IMP-A\n"
        f"{b.reference};{DEBTOR_IBANS[1]};2026-01-11;\n"
    )
    bad = good + f"NOBODY;{DEBTOR_IBANS[2]};2026-01-12;\n{a.reference};DE00123;2026-01-12;\n"
    result = mandates_import(csv_text=bad)
    assert [(e.row, e.column) for e in result.errors] == [(4, "customer"), (5, "iban")]
    assert not Mandate.objects.exists()
    dry = mandates_import(csv_text=good, dry_run=True)
    assert (dry.errors, dry.rows) == ([], 2) and not Mandate.objects.exists()
    done = mandates_import(csv_text=good, actor="test")
    assert done.errors == []
    assert sorted(Mandate.objects.values_list("reference", "source")) == sorted(
        [("IMP-A", "import"), (f"{b.reference}-1", "import")]
    )
    again = mandates_import(csv_text=good)
    assert {e.column for e in again.errors} == {"customer"}  # each has an active mandate
