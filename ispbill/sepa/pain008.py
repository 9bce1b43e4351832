"""pain.008.001.08 files (ISO 20022 customer direct debit initiation, the version of the EPC
SDD Core implementation guidelines since November 2023), written with ``sepaxml``.

The library draws random message and payment information ids and stamps the current time;
ispbill replaces them with the batch's own, so a file is a function of its batch, and
validates the result against the schema shipped with the library before keeping it."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources

from lxml import etree
from sepaxml import SepaDD

from ispbill.sepa.rules import SepaError, sepa_text

__all__ = ["PAIN008_NAMESPACE", "PAIN008_SCHEMA", "DebitLine", "pain008_build", "pain008_check"]

PAIN008_SCHEMA = "pain.008.001.08"
PAIN008_NAMESPACE = f"urn:iso:std:iso:20022:tech:xsd:{PAIN008_SCHEMA}"
_NS = {"p": PAIN008_NAMESPACE}


@dataclass(frozen=True)
class DebitLine:
    end_to_end_id: str
    amount_minor: int  # euro cents
    sequence: str  # FRST, RCUR, FNAL
    mandate_reference: str
    signature_date: date
    debtor_name: str
    iban: str
    bic: str
    remittance: str


@functools.cache
def _schema() -> etree.XMLSchema:
    path = resources.files("sepaxml") / "schemas" / f"{PAIN008_SCHEMA}.xsd"
    return etree.XMLSchema(etree.fromstring(path.read_bytes()))


def pain008_check(xml: bytes) -> None:
    """Raise SepaError unless ``xml`` is valid against the pain.008.001.08 schema."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    schema = _schema()
    if not schema.validate(etree.fromstring(xml, parser)):
        raise SepaError(f"The pain.008 file is not valid: {schema.error_log.last_error}")


def pain008_build(
    *,
    message_id: str,
    created_at: datetime,
    creditor_name: str,
    creditor_id: str,
    iban: str,
    bic: str,
    collection_date: date,
    debits: Sequence[DebitLine],
) -> bytes:
    """One file of one creditor's debits due on ``collection_date``: a payment information
    block per sequence type (FRST, RCUR, FNAL), ids ``<message id>-<type>``."""
    if not debits:
        raise SepaError("A collection without debits has no file.")
    config = {
        "name": sepa_text(creditor_name, 70),
        "IBAN": iban,
        "batch": True,
        "creditor_id": creditor_id,
        "currency": "EUR",
        "instrument": "CORE",
    }
    if bic:
        config["BIC"] = bic
    document = SepaDD(config, schema=PAIN008_SCHEMA, clean=False)
    for d in debits:
        payment = {
            "name": sepa_text(d.debtor_name, 70),
            "IBAN": d.iban,
            "amount": int(d.amount_minor),
            "type": d.sequence,
            "collection_date": collection_date,
            "mandate_id": d.mandate_reference,
            "mandate_date": d.signature_date,
            "description": sepa_text(d.remittance, 140),
            "endtoend_id": d.end_to_end_id,
        }
        if d.bic:
            payment["BIC"] = d.bic
        document.add_payment(payment)
    raw = document.export(validate=False)
    root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
    header = root.find("p:CstmrDrctDbtInitn/p:GrpHdr", _NS)
    assert header is not None
    header.find("p:MsgId", _NS).text = message_id
    header.find("p:CreDtTm", _NS).text = created_at.replace(microsecond=0).isoformat()
    for block in root.iterfind("p:CstmrDrctDbtInitn/p:PmtInf", _NS):
        sequence = block.findtext("p:PmtTpInf/p:SeqTp", namespaces=_NS)
        block.find("p:PmtInfId", _NS).text = f"{message_id}-{sequence}"
    xml = bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
    pain008_check(xml)
    return xml
