"""Document number patterns, Splynx-compatible. Pure.

Tokens: ``{year}``, ``{month}``, ``{day}``, ``{partner_id|N}``, ``{customer_id|N}``,
``{next|N}``; ``|N`` pads with zeros to N digits. Anything outside braces is literal.
A pattern must contain ``{next}`` (otherwise two documents would share a number). With
``{year}`` the sequence restarts every year: its counter is kept per year.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from datetime import date

from ispbill.core.errors import DomainError

DEFAULT_INVOICE_PATTERN = "{year}{partner_id|2}{next|6}"
DEFAULT_CREDIT_NOTE_PATTERN = "CN{year}{partner_id|2}{next|6}"
DEFAULT_RECEIPT_PATTERN = "R{year}{partner_id|2}{next|6}"
# Self-billing credit notes (approved commission statements, "Gutschrift"): own series.
DEFAULT_SELF_BILLING_PATTERN = "GS{year}{next|5}"

TOKENS = ("year", "month", "day", "partner_id", "customer_id", "next")
_TOKEN_RE = re.compile(r"\{([^{}|]*)(?:\|([^{}]*))?\}")
MAX_PATTERN_LENGTH = 64


class PatternError(DomainError):
    """A number pattern that cannot be used; the message says why."""

    code = "invalid_pattern"


@dataclass(frozen=True, slots=True)
class Part:
    literal: str | None = None
    token: str | None = None
    pad: int = 0


def parse_pattern(pattern: str) -> list[Part]:
    return list(_parts(pattern))


@functools.lru_cache(maxsize=256)
def _parts(pattern: str) -> tuple[Part, ...]:
    if not pattern or not pattern.strip():
        raise PatternError("The number pattern is empty.")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"The number pattern is longer than {MAX_PATTERN_LENGTH} characters.")
    parts: list[Part] = []
    pos = 0
    for match in _TOKEN_RE.finditer(pattern):
        if match.start() > pos:
            parts.append(Part(literal=pattern[pos : match.start()]))
        name, pad_text = match.group(1), match.group(2)
        if name not in TOKENS:
            raise PatternError(
                f"Unknown token {{{name}}} in the number pattern; use one of "
                + ", ".join("{" + t + "}" for t in TOKENS)
                + "."
            )
        pad = 0
        if pad_text is not None:
            if not pad_text.isdigit() or not 1 <= int(pad_text) <= 12:
                raise PatternError(f"Padding of {{{name}}} must be a number from 1 to 12.")
            pad = int(pad_text)
        parts.append(Part(token=name, pad=pad))
        pos = match.end()
    if pos < len(pattern):
        parts.append(Part(literal=pattern[pos:]))
    for part in parts:
        if part.literal is not None and ("{" in part.literal or "}" in part.literal):
            raise PatternError("Unbalanced brace in the number pattern.")
        if part.literal is not None and not re.fullmatch(r"[A-Za-z0-9\-_/.#]+", part.literal):
            raise PatternError(
                "Only letters, digits and - _ / . # may appear outside tokens in a number pattern."
            )
    return tuple(parts)


def validate_pattern(pattern: str) -> str:
    parts = parse_pattern(pattern)
    tokens = [p.token for p in parts if p.token]
    if tokens.count("next") != 1:
        raise PatternError(
            "The number pattern must contain {next} exactly once, so numbers differ."
        )
    # A variable-length customer id directly beside the counter makes numbers ambiguous:
    # customer 1 with counter 12 and customer 11 with counter 2 would both read "112".
    for left, right in itertools.pairwise(parts):
        pair = {left.token, right.token}
        if pair == {"customer_id", "next"}:
            raise PatternError(
                "Put a separator such as '-' between {customer_id} and {next}, "
                "or numbers of different customers could collide."
            )
    return pattern


def sequence_period_key(pattern: str, issue_date: date) -> str:
    """The counter a number is drawn from: per year when the pattern has {year}."""
    tokens = {p.token for p in parse_pattern(pattern)}
    return str(issue_date.year) if "year" in tokens else ""


def render_number(
    pattern: str, *, issue_date: date, partner_id: int, customer_id: int | None, next_value: int
) -> str:
    out: list[str] = []
    for part in parse_pattern(pattern):
        if part.literal is not None:
            out.append(part.literal)
            continue
        value: int
        if part.token == "year":
            value, default_pad = issue_date.year, 4
        elif part.token == "month":
            value, default_pad = issue_date.month, 2
        elif part.token == "day":
            value, default_pad = issue_date.day, 2
        elif part.token == "partner_id":
            value, default_pad = partner_id, 0
        elif part.token == "customer_id":
            value, default_pad = customer_id or 0, 0
        else:
            value, default_pad = next_value, 0
        out.append(str(value).zfill(part.pad or default_pad))
    return "".join(out)
