"""Builders and files for the SEPA tests: every figure in a test is visible in the test."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from lxml import etree

from ispbill.catalog.models import TaxRate
from ispbill.customers.models import Customer
from ispbill.partners.models import Partner
from ispbill.sepa.mandates import creditor_settings_save, mandate_create
from ispbill.sepa.models import CreditorSettings, Mandate

FIXTURES = Path(__file__).parent / "fixtures"
# Test identifiers published for examples: the Bundesbank's test creditor identifier and the
# IBAN of the ISO 13616 example (Commerzbank Köln).
CREDITOR_ID = "DE98ZZZ09999999999"
CREDITOR_IBAN = "DE89370400440532013000"
CREDITOR_BIC = "COBADEFFXXX"
# Valid IBANs of debtors (check digits computed for these account numbers).
DEBTOR_IBANS = ["DE02120300000000202051", "DE02500105170137075030", "DE02100500000054540402"]

_schema = etree.XMLSchema(etree.parse(str(FIXTURES / "pain.008.001.08.xsd")))


def pain008_valid(xml: bytes | str) -> etree._Element:
    """The file parsed, after asserting it is valid against the official XSD."""
    raw = xml.encode() if isinstance(xml, str) else xml
    doc = etree.fromstring(raw)
    assert _schema.validate(doc), _schema.error_log
    return doc


def creditor(
    partner: Partner, *, fee_minor: int = 0, fee_rate: TaxRate | None = None, **kw: Any
) -> CreditorSettings:
    values: dict[str, Any] = {
        "creditor_id": CREDITOR_ID,
        "creditor_name": partner.legal_name or partner.name,
        "iban": CREDITOR_IBAN,
        "bic": CREDITOR_BIC,
    }
    values.update(kw)
    return creditor_settings_save(
        partner=partner, return_fee_minor=fee_minor, return_fee_tax_rate=fee_rate, **values
    )


def mandate(c: Customer, n: int = 0, signed: date = date(2026, 2, 20), **kw: Any) -> Mandate:
    return mandate_create(customer=c, iban=DEBTOR_IBANS[n], signature_date=signed, **kw)


def camt054_return(
    *,
    end_to_end_id: str,
    amount: str,
    reason: str,
    booked: date,
    reference: str = "RTN-0001",
    version: str = "08",
) -> bytes:
    """A camt.054 debit notification of one returned direct debit, as banks send them."""
    ns = f"urn:iso:std:iso:20022:tech:xsd:camt.054.001.{version}"
    status = "<Sts><Cd>BOOK</Cd></Sts>" if version == "08" else "<Sts>BOOK</Sts>"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{ns}">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr><MsgId>NTF-{reference}</MsgId><CreDtTm>{booked.isoformat()}T08:00:00</CreDtTm></GrpHdr>
    <Ntfctn>
      <Id>{reference}</Id>
      <CreDtTm>{booked.isoformat()}T08:00:00</CreDtTm>
      <Acct><Id><IBAN>{CREDITOR_IBAN}</IBAN></Id></Acct>
      <Ntry>
        <Amt Ccy="EUR">{amount}</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <RvslInd>true</RvslInd>
        {status}
        <BookgDt><Dt>{booked.isoformat()}</Dt></BookgDt>
        <ValDt><Dt>{booked.isoformat()}</Dt></ValDt>
        <AcctSvcrRef>{reference}</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>IDDT</Cd><SubFmlyCd>UPDD</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls>
          <Refs><AcctSvcrRef>{reference}-1</AcctSvcrRef><EndToEndId>{end_to_end_id}</EndToEndId></Refs>
          <Amt Ccy="EUR">{amount}</Amt>
          <CdtDbtInd>DBIT</CdtDbtInd>
          <RtrInf><Rsn><Cd>{reason}</Cd></Rsn></RtrInf>
        </TxDtls></NtryDtls>
      </Ntry>
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>""".encode()


def pain002_reject(*, end_to_end_id: str, reason: str, created: date) -> bytes:
    ns = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{ns}">
  <CstmrPmtStsRpt>
    <GrpHdr><MsgId>STS-1</MsgId><CreDtTm>{created.isoformat()}T09:00:00</CreDtTm></GrpHdr>
    <OrgnlGrpInfAndSts><OrgnlMsgId>X</OrgnlMsgId><OrgnlMsgNmId>pain.008.001.08</OrgnlMsgNmId></OrgnlGrpInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>X-FRST</OrgnlPmtInfId>
      <TxInfAndSts>
        <OrgnlEndToEndId>{end_to_end_id}</OrgnlEndToEndId>
        <TxSts>RJCT</TxSts>
        <StsRsnInf><Rsn><Cd>{reason}</Cd></Rsn></StsRsnInf>
      </TxInfAndSts>
    </OrgnlPmtInfAndSts>
  </CstmrPmtStsRpt>
</Document>""".encode()
