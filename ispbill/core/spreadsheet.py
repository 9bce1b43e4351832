"""Cells of the CSV and XLSX files ispbill writes, safe to open in a spreadsheet.

Names, addresses, references and descriptions come from tenants, customers and bank files;
a spreadsheet reads a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula
(CSV/formula injection, CWE-1236). So every text cell is written as text: in XLSX with an
explicit string type, in CSV prefixed with a single quote when it begins with a trigger (the
OWASP advice), and quoted, so that a separator inside it cannot start a cell of its own in a
spreadsheet that splits on another character. Numbers (amounts, ids) stay numbers, negative
ones included. docs/data-import-export.md, "Formulas".
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from typing import Any, TextIO

from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

__all__ = ["FORMULA_TRIGGERS", "csv_cell", "csv_writer", "spreadsheet_text", "xlsx_cell"]

# OWASP's list: what makes Excel, LibreOffice or Google Sheets evaluate a cell.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: str) -> str:
    """``value`` as a CSV text cell that no spreadsheet evaluates."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def csv_cell(value: Any) -> Any:
    """A value for ``csv_writer``: numbers as they are (written unquoted), dates as ISO
    text, every other value as neutralised text (written quoted)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | Decimal):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return spreadsheet_text(str(value))


class _Writer:
    """csv.writer whose rows go through ``csv_cell``."""

    def __init__(self, out: TextIO) -> None:
        # QUOTE_NONNUMERIC quotes every str and leaves ints and Decimals bare.
        self._writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)

    def writerow(self, row: Any) -> None:
        self._writer.writerow([csv_cell(v) for v in row])


def csv_writer(out: TextIO) -> _Writer:
    return _Writer(out)


def xlsx_cell(sheet: WriteOnlyWorksheet, value: Any) -> WriteOnlyCell:
    """A write-only cell; a str is a string cell whatever it begins with, never a formula."""
    if isinstance(value, date):
        value = value.isoformat()
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell
