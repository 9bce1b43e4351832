from __future__ import annotations

import random
import struct
import zlib

import pytest
import segno

from ispbill.documents import data as D
from ispbill.documents.epc_qr import (
    EpcQrError,
    _matrix_planned,
    epc_qr_matrix,
    epc_qr_payload,
    epc_qr_payload_for_document,
    epc_qr_png,
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


def test_png_holds_the_qr_matrix_with_its_quiet_zone() -> None:
    payload = epc_qr_payload_for_document(D.sample_invoice())
    assert payload is not None
    png = epc_qr_png(payload)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    chunks: dict[bytes, bytes] = {}
    position = 8
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        data = png[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", png[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + data)
        chunks[kind] = data
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    matrix = segno.make_qr(payload, error="m", encoding="utf-8", boost_error=False, mask=2).matrix
    assert width == height == len(matrix) + 8 and (depth, colour) == (8, 0)
    raw = zlib.decompress(chunks[b"IDAT"])
    rows = [raw[y * (width + 1) : (y + 1) * (width + 1)] for y in range(height)]
    assert all(row[0] == 0 for row in rows)  # filter type None
    pixels = [[1 if value == 0 else 0 for value in row[1:]] for row in rows]
    assert pixels[:4] == pixels[-4:] == [[0] * width] * 4
    assert [row[4:-4] for row in pixels[4:-4]] == [list(row) for row in matrix]
    assert all(row[:4] == row[-4:] == [0] * 4 for row in pixels)


@pytest.mark.parametrize("length", [1, 17, 60, 120, 200, 280, 331])
def test_planned_matrix_is_segnos_matrix(length: int) -> None:
    # The placement plan must give exactly segno's symbol, for every version a payload of up
    # to 331 bytes can need, in byte, alphanumeric and numeric mode.
    rng = random.Random(length)
    alphabets = [
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 \näöüß€",
        "0123456789",
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:",
    ]
    for alphabet in alphabets:
        payload = "".join(rng.choice(alphabet) for _ in range(length))
        while len(payload.encode("utf-8")) > 331:
            payload = payload[:-1]
        expected = segno.make_qr(payload, error="m", encoding="utf-8", boost_error=False, mask=2)
        assert [bytes(row) for row in _matrix_planned(payload)] == [
            bytes(row) for row in expected.matrix
        ]
        assert epc_qr_matrix(payload) == _matrix_planned(payload)
