"""Basic accessibility of the key pages in a real browser: every form control has a label,
the keyboard reaches the main navigation and the primary form's button with a visible focus,
and text contrast is at least 4.5:1 (WCAG 2 AA)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ispbill.billing.models import BillingRun
from ispbill.core.tenancy import system_scope
from ispbill.demo import DEMO_PASSWORD, demo_load
from ispbill.invoicing.models import Invoice
from tests.e2e.browsing import VIEWPORT, contrast_ratio, sign_in
from tests.factories import email_delivery

MIN_CONTRAST = Decimal("4.5")

# Controls without a name a screen reader could announce: no aria-label(ledby), no
# <label for>, no wrapping <label>, or a label with no text.
UNLABELLED_JS = """
() => {
  const visible = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length)
    && getComputedStyle(e).visibility !== "hidden";
  const named = (e) => {
    if ((e.getAttribute("aria-label") || "").trim()) return true;
    const by = e.getAttribute("aria-labelledby");
    if (by && by.split(/\\s+/).some(id => (document.getElementById(id)?.innerText || "").trim()))
      return true;
    return Array.from(e.labels || []).some(l => l.innerText.trim());
  };
  return Array.from(document.querySelectorAll("input, select, textarea"))
    .filter(e => !["hidden", "submit", "button", "reset"].includes(e.type) && visible(e))
    .filter(e => !named(e))
    .map(e => e.outerHTML.slice(0, 120));
}
"""

# Text whose colours matter: body text, links, buttons, table headers, navigation, hints.
TEXT_SELECTORS = [
    "main p",
    "main a",
    "main button, main .btn",
    "header.top button, header.top a, header.top .who",
    "table.grid th",
    "table.grid td",
    ".sidenav a",
    ".nav-head",
    ".muted, .help, .sub",
    "label",
    ".status, .tag",
    ".kpi .label, .kpi .value, .kpi .hint",
    ".messages li, .notice",
]

# Every element focused: whether a focus ring (an outline of 2px or more) is drawn around
# it, its colour, and the background it is drawn on (the parent's first opaque one).
FOCUS_RECORDER_JS = """
() => {
  const opaque = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    const parts = m ? m[1].split(/[ ,\\/]+/).filter(Boolean) : [];
    return parts.length && (parts.length < 4 || parseFloat(parts[3]) > 0.99);
  };
  window.__focused = [];
  document.addEventListener("focusin", (event) => {
    const e = event.target, s = getComputedStyle(e);
    let node = e.parentElement, bg = "rgb(255, 255, 255)";
    while (node && node.nodeType === 1) {
      const c = getComputedStyle(node).backgroundColor;
      if (opaque(c)) { bg = c; break; }
      node = node.parentElement;
    }
    window.__focused.push({
      tag: e.tagName, text: (e.innerText || e.value || "").trim().slice(0, 60),
      nav: !!e.closest("nav[aria-label=Main]"),
      ring: s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2,
      colour: s.outlineColor, bg: bg,
    });
  });
}
"""

# WCAG 2 non-text contrast (1.4.11): a focus indicator against what surrounds it.
MIN_FOCUS_CONTRAST = Decimal(3)

# Text elements and the colours they are drawn in: the first ancestor with an opaque
# background is what the text sits on.
COLOURS_JS = """
(selectors) => {
  const opaque = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    const parts = m ? m[1].split(/[ ,\\/]+/).filter(Boolean) : [];
    return parts.length && (parts.length < 4 || parseFloat(parts[3]) > 0.99);
  };
  const out = [];
  for (const selector of selectors) {
    const found = Array.from(document.querySelectorAll(selector)).filter(
      e => (e.offsetWidth || e.offsetHeight) && (e.innerText || "").trim()).slice(0, 25);
    for (const el of found) {
      let node = el, bg = "rgb(255, 255, 255)";
      while (node && node.nodeType === 1) {
        const c = getComputedStyle(node).backgroundColor;
        if (opaque(c)) { bg = c; break; }
        node = node.parentElement;
      }
      out.push({selector, text: el.innerText.trim().slice(0, 40),
                fg: getComputedStyle(el).color, bg});
    }
  }
  return out;
}
"""


@pytest.fixture
def site(live_server):  # type: ignore[no-untyped-def]
    with system_scope():
        demo_load()
    return live_server.url


def unlabelled(page: Any) -> list[str]:
    return page.evaluate(UNLABELLED_JS)


def low_contrast(page: Any) -> list[str]:
    found = []
    for c in page.evaluate(COLOURS_JS, TEXT_SELECTORS):
        ratio = contrast_ratio(c["fg"], c["bg"])
        if ratio < MIN_CONTRAST:
            found.append(f"{c['selector']} {c['text']!r}: {c['fg']} on {c['bg']} = {ratio:.2f}")
    return found


def keyboard_misses(page: Any, targets: set[str], submit: str | None) -> list[str]:
    """Tab through the page; returns what was never reached or reached without a focus ring."""
    wanted = set(targets)
    if submit:
        wanted.add(f"button:{submit}")
    problems: list[str] = []
    page.evaluate(FOCUS_RECORDER_JS)
    seen = 0
    for _ in range(8):
        for _ in range(20):
            page.keyboard.press("Tab")
        focused = page.evaluate("() => window.__focused")
        for state in focused[seen:]:
            key = f"button:{state['text']}" if state["tag"] == "BUTTON" else state["text"]
            if state["nav"] or key in wanted:
                if not state["ring"]:
                    problems.append(f"no visible focus on {key!r}")
                elif contrast_ratio(state["colour"], state["bg"]) < MIN_FOCUS_CONTRAST:
                    problems.append(
                        f"faint focus ring on {key!r}: {state['colour']} on {state['bg']}"
                    )
                wanted.discard(key)
        seen = len(focused)
        if not wanted:
            break
    return problems + [f"never reached with Tab: {w!r}" for w in sorted(wanted)]


def nav_links(page: Any) -> set[str]:
    nav = page.get_by_role("navigation", name="Main")
    if not nav.count():
        return set()
    return {a.inner_text().strip() for a in nav.locator("a").all()}


def check(page: Any, url: str, submit: str | None = None) -> list[str]:
    page.goto(url)
    page.wait_for_load_state()
    problems = [f"unlabelled: {html}" for html in unlabelled(page)]
    problems += [f"contrast: {c}" for c in low_contrast(page)]
    problems += keyboard_misses(page, nav_links(page), submit)
    return [f"{url}: {p}" for p in problems]


@pytest.mark.django_db(transaction=True)
def test_key_pages_are_labelled_keyboard_usable_and_readable(browser, site):
    with system_scope():
        run_id = BillingRun.objects.order_by("-pk").values_list("pk", flat=True).first()
        invoice_id = Invoice.objects.order_by("pk").values_list("pk", flat=True).first()
        # The E-mails page with a row of each status (their badges' contrast), a long error.
        invoice = Invoice.objects.get(pk=invoice_id)
        for status in ("sent", "queued", "failed"):
            email_delivery(
                customer=invoice.customer,
                status=status,
                kind="invoice",
                invoice=invoice,
                last_error="SMTPRecipientsRefused: " + "mailbox unavailable " * 8,
            )
    problems: list[str] = []

    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    problems += check(page, f"{site}/login/", submit="Sign in")
    context.close()

    page = sign_in(browser, site, "admin", DEMO_PASSWORD)
    for path, submit in [
        ("/", None),
        ("/partners/", "Filter"),
        ("/partners/new/", "Create partner"),
        ("/customers/new/", "Create customer"),
        ("/billing/", "Preview run"),
        (f"/billing/runs/{run_id}/", None),
        (f"/invoices/{invoice_id}/", None),
        ("/usage/top/", "Show"),
        ("/emails/", "Filter"),
    ]:
        problems += check(page, f"{site}{path}", submit)
    page.context.close()

    page = sign_in(browser, site, "alpenfunk", DEMO_PASSWORD)
    problems += check(page, f"{site}/", None)
    problems += check(page, f"{site}/customers/new/", "Create customer")
    page.context.close()

    page = sign_in(browser, site, "customer", DEMO_PASSWORD)
    problems += check(page, f"{site}/portal/", None)
    page.context.close()

    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(
    ("fg", "bg", "expected"),
    [
        ("rgb(0, 0, 0)", "rgb(255, 255, 255)", Decimal(21)),
        ("rgb(255, 255, 255)", "rgb(255, 255, 255)", Decimal(1)),
        ("rgb(118, 118, 118)", "rgb(255, 255, 255)", Decimal("4.54")),
    ],
)
def test_contrast_ratio_follows_the_wcag_formula(fg, bg, expected):
    assert abs(contrast_ratio(fg, bg) - expected) < Decimal("0.01")
