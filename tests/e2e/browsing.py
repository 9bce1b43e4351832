"""What the browser tests share: signing in, filling forms, reading a PDF's text, WCAG
contrast."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from decimal import Decimal
from typing import Any

from playwright.sync_api import expect

VIEWPORT = {"width": 1366, "height": 900}


def sign_in(
    browser: Any, site: str, username: str, password: str, viewport: dict[str, int] | None = None
) -> Any:
    """A new browser context signed in as ``username``; confirmations are accepted."""
    context = browser.new_context(viewport=viewport or VIEWPORT)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{site}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return page


def field(page: Any, label: str) -> Any:
    """The form control labelled exactly ``label`` (a required field's label ends in "*")."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}\s*\*?$"))


def create_customer(page: Any, site: str, partner: str, number: str, name: str) -> None:
    """A new customer of ``partner`` (chosen where the form asks: the operator's); the browser
    is left on its page."""
    page.goto(f"{site}/customers/new/")
    partner_select = field(page, "Partner")
    if partner_select.count():
        partner_select.select_option(label=partner)
    field(page, "Customer number").fill(number)
    field(page, "Name").fill(name)
    field(page, "Email").fill(f"{number.lower()}@example.net")
    field(page, "City").fill("Leipzig")
    page.get_by_role("button", name="Create customer").click()
    page.wait_for_url(re.compile(r"/customers/\d+/$"))


def add_service(page: Any, tariff: str, start: str, quantity: int = 1) -> None:
    """Add a service of ``tariff`` from the customer's page the browser is on."""
    page.get_by_role("link", name="Add service").click()
    field(page, "Tariff").select_option(label=tariff)
    field(page, "Start date").fill(start)
    field(page, "Quantity").fill(str(quantity))
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/customers/\d+/$"))
    expect(page.get_by_text(f"Service {tariff} added.")).to_be_visible()


def pdf_text(data: bytes) -> str:
    """The text of a PDF, with poppler's pdftotext where installed (pypdf otherwise)."""
    if shutil.which("pdftotext"):
        done = subprocess.run(
            ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
        )
        return done.stdout.decode()
    from pypdf import PdfReader

    return "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages)


def euros(minor: int) -> str:
    """How the UI and the documents print an amount in minor units: 1234567 -> "12,345.67"."""
    return f"{Decimal(minor) / 100:,.2f}"


def euros_de(minor: int) -> str:
    """How a German document prints an amount in minor units: 1234567 -> "12.345,67"."""
    return euros(minor).replace(",", " ").replace(".", ",").replace(" ", ".")


def vat_minor(net_minor: int, rate_bp: int) -> int:
    """VAT on a net amount, rounded half up to the cent (integer arithmetic, no floats)."""
    return (net_minor * rate_bp + 5000) // 10000


# -- contrast (WCAG 2.x relative luminance) -------------------------------------------------

_RGB = re.compile(r"rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?\s*\)")


def parse_rgb(css: str) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """A computed colour ("rgb(1, 2, 3)" or "rgba(1, 2, 3, 0.5)") as r, g, b, alpha."""
    m = _RGB.match(css.strip())
    if m is None:
        raise ValueError(f"not a computed colour: {css!r}")
    alpha_text = m.group(4) or "1"
    alpha = Decimal(alpha_text[:-1]) / 100 if alpha_text.endswith("%") else Decimal(alpha_text)
    return Decimal(m.group(1)), Decimal(m.group(2)), Decimal(m.group(3)), alpha


def _channel(value: Decimal) -> Decimal:
    c = value / 255
    if c <= Decimal("0.04045"):
        return c / Decimal("12.92")
    return ((c + Decimal("0.055")) / Decimal("1.055")) ** Decimal("2.4")


def luminance(rgb: tuple[Decimal, Decimal, Decimal]) -> Decimal:
    r, g, b = (_channel(v) for v in rgb)
    return Decimal("0.2126") * r + Decimal("0.7152") * g + Decimal("0.0722") * b


def contrast_ratio(fg: str, bg: str) -> Decimal:
    """The WCAG contrast ratio of text colour ``fg`` over an opaque background ``bg``."""
    br, bgg, bb, _ = parse_rgb(bg)
    fr, fgg, fb, fa = parse_rgb(fg)
    # A translucent text colour is blended over its background first.
    blended = (fr * fa + br * (1 - fa), fgg * fa + bgg * (1 - fa), fb * fa + bb * (1 - fa))
    l1, l2 = luminance(blended), luminance((br, bgg, bb))
    hi, lo = max(l1, l2), min(l1, l2)
    return (hi + Decimal("0.05")) / (lo + Decimal("0.05"))
