"""camt.053 statement files with the ISO 20022 structure, for tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

NS02 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
NS08 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
XSD02 = Path(__file__).with_name("camt.053.001.02.subset.xsd")


@dataclass
class Tx:
    amount: str
    remittance: str = ""
    reference: str = ""  # AcctSvcrRef of the transaction
    debtor: str = "Max Mustermann"
    iban: str = "DE89370400440532013000"
    currency: str | None = None  # only for batch entries


@dataclass
class Entry:
    amount: str
    currency: str = "EUR"
    credit: bool = True
    booked: str = "2026-04-10"
    reference: str = ""  # AcctSvcrRef of the entry
    status: str = "BOOK"
    txs: list[Tx] = field(default_factory=list)


def camt053(entries: list[Entry], *, namespace: str = NS02, statement: str = "STMT-1") -> bytes:
    v08 = namespace == NS08

    def el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str):
        node = etree.SubElement(parent, f"{{{namespace}}}{tag}", **attrs)
        if text is not None:
            node.text = text
        return node

    doc = etree.Element(f"{{{namespace}}}Document", nsmap={None: namespace})
    root = el(doc, "BkToCstmrStmt")
    hdr = el(root, "GrpHdr")
    el(hdr, "MsgId", f"MSG-{statement}")
    el(hdr, "CreDtTm", "2026-04-30T18:00:00")
    stmt = el(root, "Stmt")
    el(stmt, "Id", statement)
    el(stmt, "CreDtTm", "2026-04-30T18:00:00")
    acct = el(stmt, "Acct")
    el(el(acct, "Id"), "IBAN", "DE02120300000000202051")
    el(acct, "Ccy", "EUR")
    for code in ("OPBD", "CLBD"):
        bal = el(stmt, "Bal")
        el(el(el(bal, "Tp"), "CdOrPrtry"), "Cd", code)
        el(bal, "Amt", "1000.00", Ccy="EUR")
        el(bal, "CdtDbtInd", "CRDT")
        el(el(bal, "Dt"), "Dt", "2026-04-30")
    for entry in entries:
        ntry = el(stmt, "Ntry")
        el(ntry, "Amt", entry.amount, Ccy=entry.currency)
        el(ntry, "CdtDbtInd", "CRDT" if entry.credit else "DBIT")
        if v08:
            el(el(ntry, "Sts"), "Cd", entry.status)
        else:
            el(ntry, "Sts", entry.status)
        el(el(ntry, "BookgDt"), "Dt", entry.booked)
        el(el(ntry, "ValDt"), "Dt", entry.booked)
        if entry.reference:
            el(ntry, "AcctSvcrRef", entry.reference)
        domain = el(el(ntry, "BkTxCd"), "Domn")
        el(domain, "Cd", "PMNT")
        family = el(domain, "Fmly")
        el(family, "Cd", "RCDT")
        el(family, "SubFmlyCd", "ESCT")
        if entry.txs:
            details = el(ntry, "NtryDtls")
            for tx in entry.txs:
                txd = el(details, "TxDtls")
                refs = el(txd, "Refs")
                if tx.reference:
                    el(refs, "AcctSvcrRef", tx.reference)
                el(refs, "EndToEndId", "NOTPROVIDED")
                if len(entry.txs) > 1:
                    if v08:
                        el(txd, "Amt", tx.amount, Ccy=tx.currency or entry.currency)
                    else:
                        tx_amt = el(el(txd, "AmtDtls"), "TxAmt")
                        el(tx_amt, "Amt", tx.amount, Ccy=tx.currency or entry.currency)
                parties = el(txd, "RltdPties")
                side = "Dbtr" if entry.credit else "Cdtr"
                party = el(parties, side)
                el(el(party, "Pty") if v08 else party, "Nm", tx.debtor)
                el(el(el(parties, f"{side}Acct"), "Id"), "IBAN", tx.iban)
                if tx.remittance:
                    el(el(txd, "RmtInf"), "Ustrd", tx.remittance)
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8")


def assert_valid_camt053_02(data: bytes) -> None:
    schema = etree.XMLSchema(etree.parse(str(XSD02)))
    document = etree.fromstring(data)
    assert schema.validate(document), schema.error_log
