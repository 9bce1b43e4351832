"""Screenshots of the key pages for the README, taken from the demo data in Debian's chromium.

    .venv/bin/python scripts/screenshots.py

Builds a throwaway SQLite database with the demo data in a temporary folder, serves it on
127.0.0.1 on a free port, signs in as the demo users and saves PNGs to docs/screenshots/
(1366x900, one at phone width). The invoice PDF is rendered to PNG with poppler's pdftoppm.
Needs the front-end assets (`make assets`), chromium and poppler-utils."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
DEMO_PASSWORD = "ispbill-demo"
BILL_UP_TO = "2026-05-05"  # the demo's history is billed to April; May is the new run
MAX_BYTES = 300_000

# The portal shot shows a residential customer with active services, greeted by its own name
# (the demo's portal user is called Carla Kundin whichever customer it belongs to).
PORTAL_CUSTOMER = """
from ispbill.accounts.models import User
from ispbill.core.tenancy import system_scope
from ispbill.customers.models import Customer
from ispbill.partners.models import Partner

with system_scope():
    accounts = Partner.objects.exclude(account=None).values("account_id")
    resident = (
        Customer.objects.filter(partner__is_home=True, company="", services__status="active")
        .exclude(pk__in=accounts)
        .order_by("pk")
        .first()
    )
    first, _, last = resident.name.partition(" ")
    User.objects.filter(username="customer").update(
        customer=resident, first_name=first, last_name=last
    )
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, server: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped (exit code {server.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.2)
        else:
            return
    raise SystemExit(f"the server did not answer on 127.0.0.1:{port} in {seconds:.0f} s")


def ispbill(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(BIN / "ispbill"), *args], env=env, check=True, stdout=subprocess.DEVNULL)


@contextmanager
def demo_server(folder: Path) -> Iterator[str]:
    """The demo data in a fresh SQLite database under ``folder``, served on 127.0.0.1."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'ispbill.sqlite3'}",
        "ISPBILL_VAR_DIR": str(folder / "var"),
        "SECRET_KEY": secrets.token_urlsafe(40),
        "CELERY_BROKER_URL": "",
        "DEBUG": "false",
    }
    print("Creating the demo database ...")
    ispbill(env, "migrate")
    ispbill(env, "demo", "--start", "2026-01")  # the figures the README shows
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", PORTAL_CUSTOMER],
        env=env,
        check=True,
    )
    port = free_port()
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        [str(BIN / "ispbill"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # gunicorn and its workers stop together below
    )
    try:
        wait_for_port(port, server)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
        log.close()


def sign_in(browser: Any, site: str, username: str, viewport: dict[str, int] = DESKTOP) -> Any:
    context = browser.new_context(viewport=viewport, device_scale_factor=1)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{site}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
    return page


def shoot(page: Any, name: str) -> Path:
    path = OUT / f"{name}.png"
    page.wait_for_load_state("networkidle")
    # Charts animate in; wait for them to settle before taking the picture.
    if page.locator("canvas").count():
        page.wait_for_timeout(1200)
    page.screenshot(path=str(path))
    print(f"  {path.relative_to(ROOT)}")
    return path


def pdf_to_png(pdf: bytes, name: str, folder: Path) -> Path:
    source = folder / f"{name}.pdf"
    source.write_bytes(pdf)
    target = OUT / name
    subprocess.run(
        ["pdftoppm", "-png", "-r", "70", "-singlefile", str(source), str(target)], check=True
    )
    path = target.with_suffix(".png")
    print(f"  {path.relative_to(ROOT)}")
    return path


def optimise(path: Path) -> None:
    """Screenshots over MAX_BYTES are reduced to a 256-colour palette (UI pages stay sharp)."""
    if path.stat().st_size <= MAX_BYTES:
        return
    try:
        from PIL import Image
    except ImportError:
        print(f"  {path.name} is {path.stat().st_size // 1000} KB; install Pillow to shrink it")
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def take_all(browser: Any, site: str, folder: Path) -> list[Path]:
    shots = []

    print("Operator (admin):")
    page = sign_in(browser, site, "admin")
    shots.append(shoot(page, "operator-dashboard"))
    page.goto(f"{site}/partners/")
    shots.append(shoot(page, "partners"))
    page.get_by_role("link", name="WISP Verbund").first.click()
    page.get_by_role("link", name="Tariffs and prices").click()
    shots.append(shoot(page, "partner-tariffs"))
    page.goto(f"{site}/partners/")
    page.goto(f"{site}/billing/")
    page.get_by_label("Bill up to").fill(BILL_UP_TO)
    page.get_by_role("button", name="Preview run").click()
    page.wait_for_load_state("networkidle")
    shots.append(shoot(page, "billing-preview"))
    page.get_by_role("button", name="Confirm and run billing").click()
    page.wait_for_url("**/billing/runs/**")
    page.locator("#run-progress .status.done").wait_for(timeout=120_000)
    shots.append(shoot(page, "billing-run"))
    page.locator("table.grid").last.locator("tbody a").first.click()
    page.wait_for_url("**/invoices/**")
    shots.append(shoot(page, "invoice"))
    pdf = page.request.get(f"{site}{page.locator('#invoice-pdf').get_attribute('href')}")
    if not pdf.ok or pdf.body()[:4] != b"%PDF":
        raise SystemExit(f"the invoice PDF did not download ({pdf.status})")
    shots.append(pdf_to_png(pdf.body(), "invoice-pdf", folder))
    page.context.close()

    print("Own-invoicing partner (alpenfunk):")
    page = sign_in(browser, site, "alpenfunk")
    shots.append(shoot(page, "partner-panel"))
    page.context.close()

    print("Aggregated partner (wispverbund):")
    page = sign_in(browser, site, "wispverbund")
    page.goto(f"{site}/catalog/tariffs/")
    shots.append(shoot(page, "partner-prices"))
    page.context.close()

    print("Customer portal (customer):")
    page = sign_in(browser, site, "customer")
    shots.append(shoot(page, "customer-portal"))
    page.context.close()
    page = sign_in(browser, site, "customer", viewport=PHONE)
    shots.append(shoot(page, "customer-portal-phone"))
    page.context.close()
    return shots


def main() -> int:
    if not (ROOT / "ispbill/web/static/web/vendor/chart.umd.min.js").exists():
        print("The front-end assets are missing: run `make assets` first.", file=sys.stderr)
        return 1
    missing = [p for p in (CHROMIUM, shutil.which("pdftoppm")) if not p or not Path(p).exists()]
    if missing:
        print("Needs Debian's chromium and poppler-utils (apt-get install chromium poppler-utils).")
        return 1
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ispbill-shots-") as tmp:
        folder = Path(tmp)
        with demo_server(folder) as site, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                shots = take_all(browser, site, folder)
            finally:
                browser.close()
    for path in shots:
        optimise(path)
    total = sum(p.stat().st_size for p in shots)
    print(f"{len(shots)} screenshots in {OUT.relative_to(ROOT)}/ ({total // 1000} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
