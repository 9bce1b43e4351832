from __future__ import annotations

import pytest

from ispbill.documents import data as D
from ispbill.documents.epc_qr import (
    EpcQrError,
    epc_qr_payload,
    epc_qr_payload_for_document,
    epc_qr_svg,
)


def test_payload_of_the_sample_invoice_equals_the_text_worked_by_hand() -> None:
    # EPC069-12: BCD, version 002, UTF-8 (1), SCT, BIC, name, IBAN, amount, purpose (empty),
    # structured reference (empty), remittance text; trailing empty lines left out.
    expected = (
        "BCD\n002\n1\nSCT\nCOBADEFF\nMusterNet GmbH\nDE89370400440532013000\n"
        "EUR115.57\n\n\n202501000123 / 10042"
    )
    assert epc_qr_payload_for_document(dict(D.sample_invoice())) == expected


def test_epc_specification_example() -> None:
    payload = epc_qr_payload(
        name="Red Cross of Belgium",
        iban="BE72 0000 0000 1616",
        bic="BPOTBEB1",
        amount="1",
        purpose="CHAR",
        remittance="Urgency fund",
        note="Sample EPC QR code",
    )
    assert payload == (
        "BCD\n002\n1\nSCT\nBPOTBEB1\nRed Cross of Belgium\nBE72000000001616\nEUR1.00\n"
        "CHAR\n\nUrgency fund\nSample EPC QR code"
    )


def test_bic_is_optional_and_line_breaks_in_texts_are_flattened() -> None:
    payload = epc_qr_payload(
        name="Stadtnetz\nNord", iban="DE02120300000000202051", amount="24.99", remittance="A\nB"
    )
    assert payload.split("\n") == [
        "BCD",
        "002",
        "1",
        "SCT",
        "",
        "Stadtnetz Nord",
        "DE02120300000000202051",
        "EUR24.99",
        "",
        "",
        "A B",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"currency": "CHF"}, "EUR"),
        ({"iban": "not an iban"}, "IBAN"),
        ({"bic": "XX"}, "BIC"),
        ({"amount": "0.00"}, "between"),
        ({"amount": "1000000000.00"}, "between"),
        ({"amount": "1.234"}, "two decimals"),
        ({"amount": "abc"}, "amount"),
        ({"name": "  "}, "name"),
        ({"structured_reference": "RF18539007547034"}, "either"),
    ],
)
def test_invalid_payment_details_are_refused(kwargs: dict[str, str], message: str) -> None:
    base = {
        "name": "MusterNet GmbH",
        "iban": "DE89370400440532013000",
        "amount": "10.00",
        "remittance": "R-1",
    }
    with pytest.raises(EpcQrError, match=message):
        epc_qr_payload(**{**base, **kwargs})


def test_long_texts_are_cut_to_their_limits_and_payload_stays_small() -> None:
    payload = epc_qr_payload(
        name="N" * 100, iban="DE89370400440532013000", amount="1.00", remittance="R" * 300
    )
    lines = payload.split("\n")
    assert len(lines[5]) == 70 and len(lines[10]) == 140
    assert len(payload.encode()) <= 331


def test_svg_is_a_qr_code_image() -> None:
    svg = epc_qr_svg("BCD\n002\n1\nSCT\n\nX\nDE89370400440532013000\nEUR1.00")
    assert svg.startswith(b"<?xml") and b"<svg" in svg
