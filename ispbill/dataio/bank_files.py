"""Bank statement files read into plain lines: CSV with configurable columns, and ISO 20022
camt.053 (namespaces camt.053.001.02 and camt.053.001.08). Pure parsing, no database."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from ispbill.core.errors import DomainError
from ispbill.core.money import AmountRangeError, Money

CAMT053_NAMESPACES = (
    "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02",
    "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08",
)


class BankFileError(DomainError):
    """A file that cannot be read as a bank statement; the message says what is wrong."""

    code = "bank_file"


@dataclass(frozen=True)
class BankLine:
    """One booked movement. ``amount`` is positive for money received (credit)."""

    reference: str
    booking_date: date
    amount: Decimal
    currency: str
    is_credit: bool
    counterparty: str = ""
    counterparty_iban: str = ""
    remittance: str = ""
    position: int = 0  # 1-based position in the file, for messages


@dataclass
class BankFile:
    format: str
    lines: list[BankLine] = field(default_factory=list)
    account_iban: str = ""
    statement_id: str = ""


def line_reference_fallback(
    *, booking_date: date, amount: Decimal, currency: str, text: str, occurrence: int
) -> str:
    """A stable reference for a line the bank gave none: the same line of the same file
    always gets the same one, so a second import of the file still adds nothing."""
    key = f"{booking_date.isoformat()}|{amount}|{currency}|{text}|{occurrence}"
    return "H-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _bounded(lines: list[BankLine]) -> list[BankLine]:
    """Every line's amount within the domain limit of an amount (ispbill/core/money.py): a
    file with an absurd amount is refused whole, before anything is booked or queued."""
    problems = []
    for line in lines:
        try:
            Money.parse(str(line.amount), line.currency)
        except AmountRangeError as exc:
            problems.append(f"line {line.position}: {exc}")
        except ValueError:
            continue  # an unknown currency or more decimals: queued with its reason later
    if problems:
        raise BankFileError("; ".join(problems[:20]))
    return lines


def _with_fallback_references(lines: list[BankLine]) -> list[BankLine]:
    lines = _bounded(lines)
    seen: Counter[str] = Counter()
    out = []
    for line in lines:
        if line.reference:
            out.append(line)
            continue
        text = f"{line.counterparty}|{line.counterparty_iban}|{line.remittance}"
        key = f"{line.booking_date}|{line.amount}|{line.currency}|{text}"
        seen[key] += 1
        ref = line_reference_fallback(
            booking_date=line.booking_date,
            amount=line.amount,
            currency=line.currency,
            text=text,
            occurrence=seen[key],
        )
        out.append(
            BankLine(
                reference=ref,
                booking_date=line.booking_date,
                amount=line.amount,
                currency=line.currency,
                is_credit=line.is_credit,
                counterparty=line.counterparty,
                counterparty_iban=line.counterparty_iban,
                remittance=line.remittance,
                position=line.position,
            )
        )
    return out


# -- CSV ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvBankFormat:
    """Which column holds what. ``currency`` may be empty: every line is then in
    ``default_currency``. ``decimal_comma``: amounts written 1.234,56."""

    date: str = "date"
    amount: str = "amount"
    currency: str = "currency"
    reference: str = "reference"
    remittance: str = "remittance"
    counterparty: str = "name"
    iban: str = "iban"
    date_format: str = "%Y-%m-%d"
    decimal_comma: bool = False
    default_currency: str = "EUR"

    @classmethod
    def from_mapping(cls, text: str, **options: object) -> CsvBankFormat:
        """From ``"date=Buchungstag,amount=Betrag"`` (the CLI's ``--columns``)."""
        values: dict[str, object] = dict(options)
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, column = part.partition("=")
            if not sep or key.strip() not in cls.__dataclass_fields__:
                raise BankFileError(f"{part!r}: write field=Column, fields: date, amount, ...")
            values[key.strip()] = column.strip()
        return cls(**values)  # type: ignore[arg-type]


def _amount(text: str, decimal_comma: bool) -> Decimal:
    value = text.strip().replace(" ", "").replace("\u00a0", "")
    # 1.234,56 (decimal comma) or 1,234.56: thousands separators go, the decimal mark stays.
    value = value.replace(".", "").replace(",", ".") if decimal_comma else value.replace(",", "")
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"{text!r} is not an amount") from exc
    if not amount.is_finite():
        raise ValueError(f"{text!r} is not an amount")
    return amount


def bank_csv_parse(text: str, fmt: CsvBankFormat) -> BankFile:
    """Lines of a CSV bank export; debits (negative amounts) are kept with is_credit False."""
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    for name in (fmt.date, fmt.amount):
        if name not in header:
            raise BankFileError(f"The file has no column {name!r}; its columns: {header}")
    lines: list[BankLine] = []
    problems: list[str] = []
    for index, row in enumerate(reader, start=2):
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        try:
            # A calendar date, not an instant: no timezone applies.
            when = datetime.strptime(row[fmt.date].strip(), fmt.date_format).date()  # noqa: DTZ007
            amount = _amount(row[fmt.amount], fmt.decimal_comma)
        except (ValueError, KeyError) as exc:
            problems.append(f"row {index}: {exc}")
            continue
        currency = (row.get(fmt.currency) or "").strip().upper() if fmt.currency else ""
        lines.append(
            BankLine(
                reference=(row.get(fmt.reference) or "").strip()[:140],
                booking_date=when,
                amount=abs(amount),
                currency=currency or fmt.default_currency,
                is_credit=amount > 0,
                counterparty=(row.get(fmt.counterparty) or "").strip()[:200],
                counterparty_iban=(row.get(fmt.iban) or "").replace(" ", "")[:34],
                remittance=" ".join((row.get(fmt.remittance) or "").split())[:500],
                position=index,
            )
        )
    if problems:
        raise BankFileError("; ".join(problems[:20]))
    return BankFile(format="csv", lines=_with_fallback_references(lines))


# -- camt.053 -------------------------------------------------------------------------------


def _parser() -> etree.XMLParser:
    # No entities, no network, no DTD: a statement file cannot reach anything else.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def camt053_namespace(data: bytes) -> str | None:
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError:
        return None
    ns = etree.QName(root).namespace
    return ns if ns in CAMT053_NAMESPACES else None


def _text(node: etree._Element | None, path: str, ns: dict[str, str]) -> str:
    if node is None:
        return ""
    found = node.find(path, ns)
    return (found.text or "").strip() if found is not None and found.text else ""


def _date(node: etree._Element, path: str, ns: dict[str, str]) -> date | None:
    value = _text(node, f"{path}/c:Dt", ns) or _text(node, f"{path}/c:DtTm", ns)[:10]
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _useful(ref: str) -> str:
    return "" if ref.upper() in ("", "NOTPROVIDED", "NONREF") else ref


def bank_camt053_parse(data: bytes) -> BankFile:
    """Lines of an ISO 20022 camt.053 statement. A batch entry with several transaction
    details gives one line per transaction; entries not booked (pending) are left out."""
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise BankFileError(f"Not a readable XML file: {exc}") from exc
    namespace = etree.QName(root).namespace
    if namespace not in CAMT053_NAMESPACES:
        raise BankFileError(
            f"Not a camt.053 statement (namespace {namespace!r}); "
            "supported: camt.053.001.02 and camt.053.001.08"
        )
    ns = {"c": namespace}
    statements = root.findall("c:BkToCstmrStmt/c:Stmt", ns)
    if not statements:
        raise BankFileError("The file holds no statement (BkToCstmrStmt/Stmt).")
    result = BankFile(format=namespace.rsplit(":", 1)[-1])
    position = 0
    for stmt in statements:
        result.statement_id = result.statement_id or _text(stmt, "c:Id", ns)
        result.account_iban = result.account_iban or _text(stmt, "c:Acct/c:Id/c:IBAN", ns)
        for entry in stmt.findall("c:Ntry", ns):
            position += 1
            status = _text(entry, "c:Sts", ns) or _text(entry, "c:Sts/c:Cd", ns)
            if status and status != "BOOK":
                continue
            amt = entry.find("c:Amt", ns)
            if amt is None or not amt.text:
                raise BankFileError(f"entry {position}: no amount")
            currency = (amt.get("Ccy") or "").upper()
            is_credit = _text(entry, "c:CdtDbtInd", ns) == "CRDT"
            booked = _date(entry, "c:BookgDt", ns) or _date(entry, "c:ValDt", ns)
            if booked is None:
                raise BankFileError(f"entry {position}: no booking date")
            entry_ref = _useful(_text(entry, "c:AcctSvcrRef", ns)) or _useful(
                _text(entry, "c:NtryRef", ns)
            )
            details: list[etree._Element | None] = list(
                entry.findall("c:NtryDtls/c:TxDtls", ns)
            ) or [None]
            for index, tx in enumerate(details, start=1):
                amount = _camt_amount(amt.text, position)
                tx_currency = currency
                if tx is not None and len(details) > 1:
                    tx_amt = tx.find("c:Amt", ns)
                    if tx_amt is None:
                        tx_amt = tx.find("c:AmtDtls/c:TxAmt/c:Amt", ns)
                    if tx_amt is not None and tx_amt.text:
                        amount = _camt_amount(tx_amt.text, position)
                        tx_currency = (tx_amt.get("Ccy") or currency).upper()
                tx_ref = ""
                if tx is not None:
                    tx_ref = (
                        _useful(_text(tx, "c:Refs/c:AcctSvcrRef", ns))
                        or _useful(_text(tx, "c:Refs/c:TxId", ns))
                        or _useful(_text(tx, "c:Refs/c:EndToEndId", ns))
                    )
                reference = tx_ref or (
                    f"{entry_ref}/{index}" if entry_ref and len(details) > 1 else entry_ref
                )
                party = "c:RltdPties/c:Cdtr" if not is_credit else "c:RltdPties/c:Dbtr"
                account = "c:RltdPties/c:CdtrAcct" if not is_credit else "c:RltdPties/c:DbtrAcct"
                name = _text(tx, f"{party}/c:Nm", ns) or _text(tx, f"{party}/c:Pty/c:Nm", ns)
                remittance = [
                    (n.text or "").strip()
                    for n in (tx.findall("c:RmtInf/c:Ustrd", ns) if tx is not None else [])
                ]
                remittance += [
                    (n.text or "").strip()
                    for n in (
                        tx.findall("c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref", ns)
                        if tx is not None
                        else []
                    )
                ]
                if not any(remittance):
                    remittance = [_text(entry, "c:AddtlNtryInf", ns)]
                result.lines.append(
                    BankLine(
                        reference=reference[:140],
                        booking_date=booked,
                        amount=abs(amount),
                        currency=tx_currency,
                        is_credit=is_credit,
                        counterparty=name[:200],
                        counterparty_iban=_text(tx, f"{account}/c:Id/c:IBAN", ns)[:34],
                        remittance=" ".join(" ".join(remittance).split())[:500],
                        position=position,
                    )
                )
    result.lines = _with_fallback_references(result.lines)
    return result


def _camt_amount(text: str, position: int) -> Decimal:
    try:
        amount = Decimal(text.strip())
    except InvalidOperation as exc:
        raise BankFileError(f"entry {position}: {text.strip()!r} is not an amount") from exc
    if not amount.is_finite():
        raise BankFileError(f"entry {position}: {text.strip()!r} is not an amount")
    return amount


def bank_file_parse(data: bytes, *, csv_format: CsvBankFormat | None = None) -> BankFile:
    """A camt.053 file (recognised by its XML namespace) or a CSV export."""
    if data.lstrip()[:1] == b"<":
        return bank_camt053_parse(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return bank_csv_parse(text, csv_format or CsvBankFormat())


TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_.\-]*[A-Za-z0-9]|[A-Za-z0-9]")


def remittance_tokens(text: str) -> set[str]:
    """Words of a remittance text that could be an invoice number or customer reference,
    as written and upper-cased ("Inv. 2026010001, Kd C1001" -> 2026010001, C1001, ...)."""
    tokens: set[str] = set()
    for token in TOKEN.findall(text):
        tokens.add(token)
        tokens.add(token.upper())
    return tokens
