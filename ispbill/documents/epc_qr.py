"""EPC069-12 ("GiroCode", SEPA credit transfer) QR code payloads.

The payload is a fixed sequence of lines separated by LF (EPC069-12 v3.0, section 5.3):

    BCD / 002 / 1 (UTF-8) / SCT / BIC (optional in 002) / name (≤ 70) / IBAN /
    EUR<amount> / purpose (4 chars, optional) / structured reference (RF..., ≤ 35) /
    unstructured remittance (≤ 140) / note to the payer (≤ 70)

Only one of the two references is given. Trailing empty lines are left out. The whole payload
is at most 331 bytes and is encoded with error correction level M.
"""

from __future__ import annotations

import functools
import io
import itertools
import re
import struct
import zlib
from decimal import Decimal, InvalidOperation
from typing import Any, cast

import segno

from ispbill.core.errors import DomainError

MAX_PAYLOAD_BYTES = 331
_IBAN_RE = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_BIC_RE = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")


class EpcQrError(DomainError):
    """The payment details cannot be expressed as an EPC QR code."""

    code = "epc_qr"


def _clean(text: str, limit: int) -> str:
    # Line breaks would shift every following field.
    return " ".join(text.split())[:limit]


def epc_qr_payload(
    *,
    name: str,
    iban: str,
    amount: str,
    remittance: str = "",
    bic: str = "",
    currency: str = "EUR",
    purpose: str = "",
    structured_reference: str = "",
    note: str = "",
) -> str:
    """The EPC QR text for a SEPA credit transfer of ``amount`` (a decimal string) in EUR."""
    if currency != "EUR":
        raise EpcQrError("EPC QR codes are for payments in EUR only")
    iban_clean = iban.replace(" ", "").upper()
    if not _IBAN_RE.match(iban_clean):
        raise EpcQrError(f"{iban!r} is not an IBAN")
    bic_clean = bic.replace(" ", "").upper()
    if bic_clean and not _BIC_RE.match(bic_clean):
        raise EpcQrError(f"{bic!r} is not a BIC")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise EpcQrError(f"{amount!r} is not an amount") from None
    if not Decimal("0.01") <= value <= Decimal("999999999.99"):
        raise EpcQrError("the amount must be between 0.01 and 999999999.99 EUR")
    if value != value.quantize(Decimal("0.01")):
        raise EpcQrError("the amount has more than two decimals")
    if structured_reference and remittance:
        raise EpcQrError("give either a structured reference or a remittance text, not both")
    beneficiary = _clean(name, 70)
    if not beneficiary:
        raise EpcQrError("the beneficiary name is empty")
    lines = [
        "BCD",
        "002",
        "1",
        "SCT",
        bic_clean,
        beneficiary,
        iban_clean,
        f"EUR{value.quantize(Decimal('0.01'))}",
        _clean(purpose, 4),
        _clean(structured_reference, 35),
        _clean(remittance, 140),
        _clean(note, 70),
    ]
    while lines[-1] == "":
        lines.pop()
    payload = "\n".join(lines)
    if len(payload.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        raise EpcQrError("the EPC QR payload is longer than 331 bytes")
    return payload


def epc_qr_png(payload: str) -> bytes:
    """The QR code as a PNG of one pixel per module with a quiet zone of 4.

    Templates scale it up with ``scaling: "pixelated"``; a tiny PNG embeds in the PDF several
    milliseconds faster than the equivalent SVG of hundreds of rectangles. The PNG (8-bit
    grey, black modules) is written here from segno's matrix: a quarter of the time of
    segno's own pure-Python PNG writer.
    """
    return _png_of_matrix(epc_qr_matrix(payload), border=4)


def epc_qr_matrix(payload: str) -> tuple[bytearray, ...]:
    """The modules of the QR code (1 = dark), without quiet zone: error correction M, byte
    mode, UTF-8, mask 2, the smallest version that holds the payload.

    It is exactly ``segno.make_qr(payload, error="m", encoding="utf-8", boost_error=False,
    mask=2).matrix`` (tested), in about half the time: segno encodes the data and computes
    the error correction, but placing the bits and applying the mask, which segno does by
    walking every module in Python, is done from a plan cached per version. A segno without
    the functions used here falls back to segno.make_qr.
    """
    try:
        return _matrix_planned(payload)
    except (AttributeError, ImportError, TypeError):  # pragma: no cover - other segno versions
        qr = segno.make_qr(payload, error="m", encoding="utf-8", boost_error=False, mask=2)
        return tuple(qr.matrix)


_MASK = 2


def _matrix_planned(payload: str) -> tuple[bytearray, ...]:
    from segno import consts
    from segno import encoder as enc

    error = consts.ERROR_LEVEL_M
    segments = enc.prepare_data(payload, None, "utf-8")
    version = enc.find_version(segments, error, eci=False, micro=False)
    if version < 1:  # pragma: no cover - micro=False never gives a Micro QR version
        raise TypeError("Micro QR")
    # As segno's _encode for a QR Code (not Micro): segments, terminator, padding, final
    # message (data and error correction codewords, interleaved) as a sequence of bits.
    buffer = enc.Buffer()
    ver_range = enc.version_range(version)
    for segment in segments:
        enc.write_segment(buffer, segment, None, ver_range, False)
    capacities = cast(dict[int, dict[int, int]], consts.SYMBOL_CAPACITY)
    capacity = capacities[version][error]
    enc.write_terminator(buffer, capacity, None, len(buffer))
    enc.write_padding_bits(buffer, version, len(buffer))
    enc.write_pad_codewords(buffer, version, capacity, len(buffer))
    bits = enc.make_final_message(version, error, buffer).getbits()
    blank, positions = _placement_plan(version, error, len(bits))
    matrix = [bytearray(row) for row in blank]
    # The mask is an XOR, so a dark data bit flips the module of the all-zero symbol.
    for i, j in itertools.compress(positions, bits):
        matrix[i][j] ^= 1
    return tuple(matrix)


@functools.lru_cache(maxsize=16)
def _placement_plan(
    version: int, error: int, bit_count: int
) -> tuple[tuple[bytes, ...], tuple[tuple[int, int], ...]]:
    """The finished symbol of all-zero data (function patterns, mask, format and version
    information) and the module of each data bit, in placement order, found by letting
    segno place the bits into a matrix that records where they go."""
    from segno import encoder as enc

    positions: list[tuple[int, int]] = []

    class _Row(bytearray):
        number = 0

        def __setitem__(self, key: Any, value: Any) -> None:
            positions.append((self.number, key))
            super().__setitem__(key, value)

    width = enc.calc_matrix_size(version)
    base = enc.make_matrix(width, width)
    enc.add_finder_patterns(base, width, width)
    enc.add_alignment_patterns(base, width, width)
    rows = []
    for index, row in enumerate(base):
        recording = _Row(row)
        recording.number = index
        rows.append(recording)
    enc.add_codewords(tuple(rows), bytearray(bit_count), version)
    if len(positions) != bit_count:  # pragma: no cover - a segno that places differently
        raise TypeError("unexpected codeword placement")
    matrix = tuple(bytearray(row) for row in rows)
    _mask, matrix = enc.find_and_apply_best_mask(matrix, width, width, _MASK)
    enc.add_format_info(matrix, version, error, _MASK)
    enc.add_version_info(matrix, version)
    return tuple(bytes(row) for row in matrix), tuple(positions)


_GREY = bytes([255, 0]) + bytes(254)  # module value 0 (light) -> white, 1 (dark) -> black


def _png_of_matrix(matrix: Any, *, border: int) -> bytes:
    size = len(matrix) + 2 * border
    quiet = b"\x00" + b"\xff" * size
    margin = b"\xff" * border
    rows = [quiet] * border
    rows.extend(b"\x00" + margin + bytes(row).translate(_GREY) + margin for row in matrix)
    rows.extend([quiet] * border)
    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            # Level 1: Typst decodes the PNG and compresses the image again for the PDF, so
            # a smaller PNG saved nothing, and level 9 took 0.24 ms of every invoice (level 1:
            # 0.03 ms, 100 bytes more through the pipe to the render worker).
            _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 1)),
            _png_chunk(b"IEND", b""),
        )
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def epc_qr_svg(payload: str) -> bytes:
    """The QR code as a standalone SVG (black modules, quiet zone of 4)."""
    # A fixed mask pattern is as valid as any (ISO/IEC 18004 leaves the choice to the
    # encoder); scoring all eight masks would cost about 8 ms, most of a render.
    qr = segno.make_qr(payload, error="m", encoding="utf-8", boost_error=False, mask=2)
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=4, border=4, xmldecl=True, svgns=True)
    return out.getvalue()


def epc_qr_payload_for_document(data: dict[str, Any]) -> str | None:
    """The payload for an invoice's amount due, or None when no QR code belongs on it.

    A QR code is printed for invoices and aggregated invoices in EUR whose issuer has an IBAN
    and that still have an amount due, unless it is collected by direct debit.
    """
    head = data.get("document", {})
    issuer = data.get("issuer", {})
    if head.get("type") not in ("invoice", "aggregated_invoice") or head.get("direct_debit"):
        return None
    if head.get("currency") != "EUR" or not issuer.get("iban"):
        return None
    due = data.get("totals", {}).get("due", "0")
    if Decimal(due) <= 0:
        return None
    return epc_qr_payload(
        name=issuer.get("legal_name") or issuer.get("name", ""),
        iban=issuer["iban"],
        bic=issuer.get("bic", ""),
        amount=due,
        remittance=head.get("payment_reference") or head.get("number", ""),
    )
