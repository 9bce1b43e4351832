"""The ``ispbill`` console command."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

from ispbill.dataio import cli as dataio_cli
from ispbill.events import cli as events_cli
from ispbill.gateways import cli as gateways_cli
from ispbill.radius import cli as radius_cli
from ispbill.sepa import cli as sepa_cli


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ispbill.settings")
    import django

    django.setup()


def cmd_migrate(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1 if args.verbose else 0)
    print("Database is up to date.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.utils.timezone import localdate

    from ispbill.core.periods import add_months
    from ispbill.demo import DEMO_PASSWORD, demo_load, demo_pdfs_render, demo_start
    from ispbill.invoicing.pdfs import PdfRenderStats

    start = args.start or demo_start(localdate())
    if start > localdate():
        print(
            f"--start {start:%Y-%m} is in the future; a demo bills past months.",
            file=sys.stderr,
        )
        return 2
    result = demo_load(start=start)
    failed = False
    if result.created:
        last = add_months(start, 3)
        print(
            f"Demo data loaded: {result.partners} partners, {result.customers} customers, "
            f"{result.services} services, {result.invoices} invoices of four months' billing "
            f"({start:%B %Y} to {last:%B %Y}), {result.mandates} SEPA mandates."
        )
        print(
            f"Billing dates from {add_months(start, 4):%d %B %Y} on are left to run: "
            "ispbill bill --dry-run -v"
        )
        if settings.RENDER_PDFS_ON_ISSUE:
            # As the runs store them after issue: a consistent installation, no "to render".
            def progress(done: int, total: int, stats: PdfRenderStats) -> None:
                print(f"  {done}/{total} PDFs of the history stored", flush=True)

            print("Storing the history's PDFs (as billing runs do after issue):", flush=True)
            stats = demo_pdfs_render(progress=progress)
            print(f"Stored {stats.rendered} PDFs in {stats.seconds:.1f} s.")
            if stats.failed:
                print(
                    f"{stats.failed} PDF(s) failed; 'ispbill render-pdfs' names them.",
                    file=sys.stderr,
                )
                failed = True
    else:
        print("Demo data is already present; nothing was added.")
    print(f"Users (password for all: {DEMO_PASSWORD}):")
    for username, what in result.users:
        print(f"  {username:<12} {what}")
    return 1 if failed else 0


def cmd_check(args: argparse.Namespace) -> int:
    from ispbill.core.invariants import invariants_check

    names, breaches = invariants_check()
    for breach in breaches:
        print(f"BREACH {breach}")
    if breaches:
        print(f"{len(breaches)} breach(es) found in {len(names)} checks.", file=sys.stderr)
        return 1
    print(f"All {len(names)} checks passed: " + ", ".join(names))
    return 0


def _admin_password(args: argparse.Namespace) -> str | None:
    """The new administrator's password: standard input, ISPBILL_ADMIN_PASSWORD, or asked
    twice on a terminal (never a command-line flag: it would show in the process list)."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if os.environ.get("ISPBILL_ADMIN_PASSWORD"):
        return os.environ["ISPBILL_ADMIN_PASSWORD"]
    if not sys.stdin.isatty():
        return None
    import getpass

    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password (again): "):
        print("error: the two passwords differ.", file=sys.stderr)
        return None
    return first


def cmd_createadmin(args: argparse.Namespace) -> int:
    from ispbill.accounts.models import Role
    from ispbill.accounts.services import user_create
    from ispbill.core.errors import DomainValidationError

    interactive = sys.stdin.isatty() and not args.password_stdin
    username = args.username or (input("User name: ").strip() if interactive else "")
    email = args.email if args.email is not None else (input("E-mail: ") if interactive else "")
    if not username:
        print("error: give the user name with --username.", file=sys.stderr)
        return 1
    password = _admin_password(args)
    if not password:
        print(
            "error: no password: type it when asked, or pass it on standard input with "
            "--password-stdin, or in ISPBILL_ADMIN_PASSWORD.",
            file=sys.stderr,
        )
        return 1
    try:
        user = user_create(username=username, role=Role.ADMIN, email=email, password=password)
    except DomainValidationError as exc:
        for field, text in (exc.fields or {"": exc.message}).items():
            print(f"error: {field + ': ' if field else ''}{text}", file=sys.stderr)
        return 1
    print(f"Operator administrator {user.username!r} created; sign in at /login/.")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or "gunicorn"
    print(f"ispbill is serving at http://{args.host}:{args.port}/ (Ctrl+C stops it)")
    if "PUBLIC_URL" not in os.environ:
        # Pay links in e-mails point here unless PUBLIC_URL says where customers reach it.
        host = "localhost" if args.host in ("", "0.0.0.0", "::") else args.host  # noqa: S104
        os.environ["PUBLIC_URL"] = f"http://{host}:{args.port}"
        print(f"Links in e-mails: {os.environ['PUBLIC_URL']} (set PUBLIC_URL for another)")
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        print(f"Database: {settings.DATABASES['default']['NAME']}")
    argv = [
        gunicorn,
        "ispbill.wsgi:application",
        "--bind",
        f"{args.host}:{args.port}",
        "--workers",
        str(args.workers),
        "--access-logfile",
        "-",
    ]
    sys.stdout.flush()
    os.execv(gunicorn, argv)  # noqa: S606 - replaces this process with the server
    return 0  # pragma: no cover


def cmd_worker(args: argparse.Namespace) -> int:
    """Start a Celery worker: it takes billing chunks, PDF rendering and emails from the
    broker. Start one on every machine that should share the work."""
    from django.conf import settings

    if settings.CELERY_TASK_ALWAYS_EAGER:
        print(
            "error: no broker is configured, so there is no work to take: set "
            "CELERY_BROKER_URL (for example redis://127.0.0.1:6379/0) for the worker and for "
            "the processes that start billing runs.",
            file=sys.stderr,
        )
        return 2
    from ispbill.celery import app

    print(f"Celery worker with {args.concurrency} process(es) on {settings.CELERY_BROKER_URL}")
    sys.stdout.flush()
    app.worker_main(
        [
            "worker",
            "--concurrency",
            str(args.concurrency),
            "--pool",
            "prefork",
            "--loglevel",
            args.loglevel,
            "--without-gossip",
            "--without-mingle",
        ]
    )
    return 0


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _money(minor: int, currency: str) -> str:
    from ispbill.core.money import Money

    return str(Money.from_minor(minor, currency))


def _own_partner(partner_id: int | None) -> tuple[Any, int]:
    """The own-invoicing partner named by ``--partner`` (None without it), or an exit code."""
    from ispbill.partners.models import Partner, PartnerMode

    if not partner_id:
        return None, 0
    partner = Partner.objects.filter(pk=partner_id).first()
    if partner is None or partner.mode != PartnerMode.OWN_INVOICING:
        print(f"error: partner {partner_id} is not an own-invoicing partner", file=sys.stderr)
        return None, 2
    return partner, 0


def _past_date(text_date: date | None) -> date | None:
    """The ``--date`` given, if it is not in the future (else an error is printed)."""
    from ispbill.billing.run import BillingRunDateError, billing_run_date_check

    day = text_date or date.today()  # noqa: DTZ011 - the operator's calendar day
    try:
        return billing_run_date_check(day)
    except BillingRunDateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _catch_up_refuse(run_date: date, stats: Any) -> int:
    """A run that would bill more than one billing date for some customers: the dates, and
    how to confirm. Nothing was written (it was a preview)."""
    print(
        f"error: billing up to {run_date} is a catch-up: {stats.caught_up} customer(s) or "
        "partners' aggregations would be billed for more than one billing date:",
        file=sys.stderr,
    )
    for day, fig in sorted(stats.per_date.items()):
        totals = ", ".join(_money(t, cur) for cur, t in sorted(fig["totals"].items()))
        print(f"  {day}  {fig['invoices']:>6} invoices  {totals}", file=sys.stderr)
    print("Check the dates, then run again with --confirm-catch-up.", file=sys.stderr)
    return 3


def cmd_bill(args: argparse.Namespace) -> int:
    from ispbill.billing.run import BillingRunError, billing_run_start
    from ispbill.core.tenancy import system_scope

    run_date = _past_date(args.date)
    if run_date is None:
        return 2
    with system_scope():
        issuer, code = _own_partner(args.partner)
        if code:
            return code
        try:
            if not args.dry_run and not args.confirm_catch_up:
                preview = billing_run_start(run_date=run_date, dry_run=True, issuer=issuer)
                if preview.stats.caught_up:
                    return _catch_up_refuse(run_date, preview.stats)
            summary = billing_run_start(
                run_date=run_date, dry_run=args.dry_run, issuer=issuer, started_by="cli"
            )
        except BillingRunError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    stats = summary.stats
    if summary.status == "running":
        print(f"Billing run {summary.run_id} for {run_date} dispatched to the Celery workers.")
        return 0
    label = "Dry run (nothing written)" if args.dry_run else f"Billing run {summary.run_id}"
    if summary.nothing_to_do and not stats.failures:
        print(f"{label} for {run_date}: nothing left to do; every billing date is processed.")
        return 0
    if stats.failures:
        n = len(stats.failures)
        print(f"{label} for {run_date}: finished with {n} failure{'s' if n != 1 else ''}:")
    else:
        print(f"{label} for {run_date}:")
    print(f"  customers billed:  {stats.customers_billed}")
    print(f"  charges rated:     {stats.charges_created}")
    print(f"  invoices issued:   {stats.invoices_issued}")
    for currency, total in sorted(stats.totals.items()):
        print(f"  total {currency}:         {_money(total, currency)}")
    if args.dry_run or args.verbose:
        print("  per issuer and recipient:")
        for (issuer_name, recipient), fig in sorted(stats.groups.items()):
            print(
                f"    {issuer_name + ' -> ' + recipient:<52} {fig['invoices']:>6} invoices "
                f"{_money(int(fig['total_minor']), str(fig['currency'] or 'EUR')):>16}"
            )
        print("  per billing date:")
        for day, fig in sorted(stats.per_date.items()):
            totals = ", ".join(_money(t, cur) for cur, t in sorted(fig["totals"].items()))
            print(f"    {day}  {fig['invoices']:>6} invoices  {totals}")
    if stats.caught_up:
        print(
            f"  catch-up: {stats.caught_up} customer(s) or aggregation(s) billed for more "
            "than one billing date"
        )
    print(f"  time taken:        {summary.seconds:.2f} s")
    if stats.failures:
        with system_scope():
            _failures_print(summary.run_id, stats.failures)
        return 1
    return 0


def _failures_print(run_id: int | None, failures: list[Any]) -> None:
    """The customers (and partners' aggregations) that failed, each with its error."""
    from ispbill.customers.models import Customer
    from ispbill.partners.models import Partner

    refs = dict(
        Customer.objects.filter(
            pk__in=[f.customer_id for f in failures if f.customer_id]
        ).values_list("pk", "reference")
    )
    names = dict(
        Partner.objects.filter(pk__in={f.partner_id for f in failures}).values_list("pk", "name")
    )
    print(f"  failed ({len(failures)}), skipped; the next run retries them:")
    for f in failures:
        who = f"customer {refs.get(f.customer_id, f.customer_id)}" if f.customer_id else ""
        if f.stage == "aggregation":
            who = "aggregation"
        elif f.stage != "customer":
            who = f"{f.stage} of {who}"
        print(f"    {names.get(f.partner_id, f.partner_id)}: {who}: {f.error}")
    if run_id is not None:
        print(f"  details (tracebacks): ispbill billing-run {run_id}")


def cmd_billing_run(args: argparse.Namespace) -> int:
    """One billing run: its status and failures; mark a stuck run failed, or resume it."""
    from ispbill.billing.models import BillingFailure, BillingRun
    from ispbill.billing.run import (
        BillingRunError,
        billing_run_abandon,
        billing_run_is_stuck,
        billing_run_resume,
    )
    from ispbill.core.tenancy import system_scope

    with system_scope():
        try:
            if args.resume:
                summary = billing_run_resume(run_id=args.run_id, actor="cli", force=args.force)
                print(
                    f"Billing run {args.run_id} marked failed; billing run {summary.run_id} "
                    f"started for {summary.run_date}: {summary.status}."
                )
                if summary.stats.failures:
                    _failures_print(summary.run_id, summary.stats.failures)
                    return 1
                return 0
            if args.fail:
                billing_run_abandon(run_id=args.run_id, actor="cli", force=args.force)
                print(
                    f"Billing run {args.run_id} marked failed; start the run again "
                    "(ispbill bill) to do what it left."
                )
                return 0
        except BillingRunError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        run = BillingRun.objects.filter(pk=args.run_id).select_related("scope_partner").first()
        if run is None:
            print(f"error: there is no billing run {args.run_id}", file=sys.stderr)
            return 2
        scope = run.scope_partner.name if run.scope_partner else "every customer"
        stuck = " (stuck: ispbill billing-run --resume)" if billing_run_is_stuck(run) else ""
        print(f"Billing run {run.pk} for {run.run_date} ({scope}): {run.status_label}{stuck}")
        print(
            f"  started {run.started_at:%Y-%m-%d %H:%M:%S} by {run.started_by or 'scheduler'}"
            f", {run.chunks_done}/{run.chunks_total} steps, {run.invoices_issued} invoices"
        )
        if run.error:
            print(f"  error: {run.error}")
        for f in BillingFailure.objects.filter(run=run).select_related("customer", "partner"):
            who = f"customer {f.customer.reference}" if f.customer else "-"
            state = f"retried by run {f.resolved_by_run_id}" if f.resolved_at else "open"
            print(f"  FAILED {f.get_stage_display()}: {f.partner.name}, {who} [{state}]")
            print(f"    {f.error}")
            if args.verbose and f.traceback:
                print("    " + f.traceback.rstrip().replace("\n", "\n    "))
    return 0


def _month(text: str) -> date:
    try:
        return date.fromisoformat(f"{text}-01" if len(text) == 7 else text).replace(day=1)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month (YYYY-MM)") from exc


def cmd_statements(args: argparse.Namespace) -> int:
    from ispbill.commission.statements import (
        commission_statement_build,
        commission_statement_csv,
        commission_statements_build_closed,
        statement_partners,
    )
    from ispbill.core.tenancy import system_scope

    if args.month is None:
        # Every closed month not built yet, for every partner (the daily work does the same).
        with system_scope():
            result = commission_statements_build_closed(actor="cli")
            for st in [*result.built, *result.updated]:
                print(
                    f"  {st.partner.name:<30} {st.period_start:%Y-%m} {st.status:<9} "
                    f"{st.lines.count():>5} lines {_money(st.total_minor, st.currency):>16}"
                )
                if args.csv:
                    print(commission_statement_csv(st), end="")
            for failure in result.failures:
                print(f"  failed: {failure}")
            print(result.message())
        return 1 if result.failures else 0
    month = args.month
    with system_scope():
        partners = statement_partners(month=month)
        if not partners:
            print(f"No percentage partners: no commission statements for {month:%Y-%m}.")
            return 0
        print(f"Commission statements for {month:%Y-%m}:")
        for partner in partners:
            st = commission_statement_build(partner=partner, month=month, actor="cli")
            print(
                f"  {partner.name:<30} {st.status:<9} {st.lines.count():>5} lines "
                f"{_money(st.total_minor, st.currency):>16}"
            )
            if args.csv:
                print(commission_statement_csv(st), end="")
    return 0


def cmd_dunning(args: argparse.Namespace) -> int:
    from ispbill.core.tenancy import system_scope
    from ispbill.dunning.services import dunning_run

    today = _past_date(args.date)
    if today is None:
        return 2
    with system_scope():
        issuer, code = _own_partner(args.partner)
        if code:
            return code
        result = dunning_run(today=today, dry_run=args.dry_run, issuer=issuer, actor="cli")
        _dunning_print(result, verbose=args.dry_run or args.verbose)
        if result.failures:
            _failures_print(None, result.failures)
            return 1
    return 0


def _dunning_print(result: Any, *, verbose: bool) -> None:
    """A dunning run's counts; with ``verbose`` (always for a dry run) every customer and
    reminder, as the web page's preview lists them."""
    from ispbill.customers.models import Customer
    from ispbill.invoicing.models import Invoice

    subs = len(result.subcustomers_blocked)
    if result.dry_run:
        print(
            f"Dunning as of {result.today}, dry run (nothing written): would block "
            f"{len(result.blocked)}, deactivate {len(result.deactivated)}, block {subs} "
            f"sub-customers with their partner, send {result.reminders} reminders, charge "
            f"{result.late_fees} late-payment fees."
        )
    else:
        print(
            f"Dunning: {len(result.blocked)} blocked, {len(result.deactivated)} deactivated, "
            f"{subs} sub-customers blocked with their partner, {result.reminders} reminders sent, "
            f"{result.late_fees} late-payment fees charged."
        )
    if not verbose:
        return
    ids = [*result.deactivated, *result.blocked, *result.subcustomers_blocked]
    people = Customer.objects.filter(pk__in=ids).select_related("partner").in_bulk()
    for title, pks in (
        ("deactivate", result.deactivated),
        ("block", result.blocked),
        ("block with partner", result.subcustomers_blocked),
    ):
        for pk in pks:
            c = people[pk]
            print(f"  {title:<18} {c.reference:<12} {c.name:<30} {result.reasons.get(pk, '')}")
    numbers = dict(
        Invoice.objects.filter(pk__in=[pk for pk, _d in result.reminded]).values_list(
            "pk", "number"
        )
    )
    for pk, days in result.reminded:
        print(f"  {'remind':<18} {numbers.get(pk, pk)!s:<12} {days} days after due")


def cmd_scheduler(args: argparse.Namespace) -> int:
    import time

    from ispbill.core.tenancy import system_scope
    from ispbill.dunning.daily import daily_work
    from ispbill.events.services import deliveries_send_due
    from ispbill.gateways.services import autopay_run

    last: date | None = None
    print(
        "Scheduler started: plan changes, billing, dunning and reminders once a day "
        "(Ctrl+C stops it)."
    )
    while True:
        today = date.today()  # noqa: DTZ011
        if today != last:
            with system_scope():
                result = daily_work(today=today)
            autopaid = autopay_run(on=today)
            print(
                f"{today}: {result}; autopay {len(autopaid.paid)} paid, "
                f"{len(autopaid.failed)} failed"
            )
            last = today
            if args.once:
                return 0
        with system_scope():
            deliveries_send_due()  # webhooks: first attempts missed and retries due
        time.sleep(60)


def cmd_customer(args: argparse.Namespace) -> int:
    from ispbill.core.tenancy import system_scope
    from ispbill.customers.models import Customer
    from ispbill.customers.selectors import account_issuer
    from ispbill.payments.selectors import (
        customer_balance,
        customer_open_invoices,
        customer_statement,
    )

    with system_scope():
        customer = (
            Customer.objects.filter(reference=args.reference).select_related("partner").first()
        )
        if customer is None:
            print(f"error: no customer with number {args.reference!r}", file=sys.stderr)
            return 2
        cur = account_issuer(customer).currency
        today = date.today()  # noqa: DTZ011
        who = f"{customer.reference} {customer.name} ({customer.partner.name})"
        print(f"{who}, status {customer.status}")
        print(f"Balance: {_money(customer_balance(customer), cur)}")
        for inv in customer_open_invoices(customer):
            overdue = " OVERDUE" if inv.due_date < today else ""
            open_amount = _money(inv.open_minor, inv.currency)
            total = _money(inv.total_minor, inv.currency)
            print(f"  open {inv.number} due {inv.due_date} {open_amount} of {total}{overdue}")
        start = args.start or date(today.year, 1, 1)
        end = args.end or today
        st = customer_statement(customer, start=start, end=end)
        print(f"Statement {start} - {end}: opening {_money(st.opening_minor, cur)}")
        for row in st.rows:
            print(
                f"  {row.date} {row.kind:<12} {row.reference:<20} "
                f"{_money(row.debit_minor, cur) if row.debit_minor else '':>14} "
                f"{_money(row.credit_minor, cur) if row.credit_minor else '':>14} "
                f"{_money(row.balance_minor, cur):>14}"
            )
        print(f"Closing balance: {_money(st.closing_minor, cur)}")
    return 0


def cmd_partner_tariffs(args: argparse.Namespace) -> int:
    """A reseller's price list; with ``--make-all-available`` every active operator tariff
    becomes available to it first (docs/reseller-modes.md, "Selling and prices")."""
    from ispbill.catalog.selectors import partner_pays_wholesale, partner_price_list
    from ispbill.catalog.services import partner_tariffs_make_all_available
    from ispbill.core.errors import DomainError
    from ispbill.core.tenancy import system_scope
    from ispbill.partners.models import Partner

    with system_scope():
        partner = Partner.objects.filter(pk=args.partner).first()
        if partner is None or partner.is_home:
            print(f"error: partner {args.partner} is not a reseller", file=sys.stderr)
            return 2
        if args.make_all_available:
            try:
                added = partner_tariffs_make_all_available(partner=partner, actor="cli")
            except DomainError as exc:
                print(f"error: {exc.message}", file=sys.stderr)
                return 2
            print(f"{added} tariffs made available to {partner.name}.")
        currency = Partner.objects.values_list("currency", flat=True).get(is_home=True)
        billed = "billed at these prices" if partner_pays_wholesale(partner) else "retail"
        print(f"{partner.name} ({partner.get_mode_display()}; {billed}):")
        for r in partner_price_list(partner=partner):
            source = "partner price" if r.partner_price_minor is not None else "discount"
            print(
                f"  {'yes' if r.available else 'no ':<3} {r.tariff.name:<32} "
                f"retail {_money(r.tariff.price_minor, currency):>12}  "
                f"price {_money(r.price_minor, currency):>12} ({source})"
            )
    return 0


def cmd_render_pdfs(args: argparse.Namespace) -> int:
    from ispbill.core.tenancy import system_scope
    from ispbill.invoicing.pdfs import PdfRenderStats, documents_pdf_render_pending

    def progress(done: int, total: int, stats: PdfRenderStats) -> None:
        print(
            f"  {done}/{total} documents, {stats.rendered} rendered, {stats.failed} failed, "
            f"{stats.rate:.1f} documents/s",
            flush=True,
        )

    with system_scope():
        stats = documents_pdf_render_pending(batch=args.batch, progress=progress)
    print(
        f"Rendered {stats.rendered} PDFs in {stats.seconds:.1f} s ({stats.rate:.1f} documents/s); "
        f"{stats.failed} failed."
    )
    return 1 if stats.failed else 0


def cmd_emails(args: argparse.Namespace) -> int:
    from ispbill.core.tenancy import system_scope
    from ispbill.invoicing.sending import (
        email_deliveries_send_queued,
        email_delivery_counts,
        email_delivery_retry,
    )

    with system_scope():
        if args.retry_failed:
            print(f"Queued {email_delivery_retry()} failed email(s) again.")
        if args.send_queued:
            sent = email_deliveries_send_queued(older_than_seconds=args.older_than * 60)
            print(f"Handed {sent} queued email(s) to sending.")
        counts = email_delivery_counts()
    print("Emails: " + ", ".join(f"{n} {status}" for status, n in counts.items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ispbill", description="Billing for ISPs with resellers")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("migrate", help="create or update the database schema")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("demo", help="load demo data (idempotent)")
    p.add_argument(
        "--start",
        type=_month,
        help="YYYY-MM: the first of the four billed months (default: four months before "
        "this one, so the demo is current; docs and tests use 2026-01)",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "createadmin", help="create an operator administrator (the first user of a real install)"
    )
    p.add_argument("--username")
    p.add_argument("--email")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (else ISPBILL_ADMIN_PASSWORD, else asked)",
    )
    p.set_defaults(func=cmd_createadmin)

    p = sub.add_parser("check", help="verify the ledger and document invariants")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("bill", help="run billing for every billing date up to a day")
    p.add_argument("--date", type=_date, help="bill up to this day (default: today; not later)")
    p.add_argument(
        "--dry-run", action="store_true", help="show what would be issued; write nothing"
    )
    p.add_argument(
        "--partner", type=int, help="an own-invoicing partner's own run (its customers only)"
    )
    p.add_argument(
        "-v", "--verbose", action="store_true", help="totals per issuer, recipient and date"
    )
    p.add_argument(
        "--confirm-catch-up",
        action="store_true",
        help="bill more than one billing date for some customers (without it such a run "
        "is refused with its dates, exit 3)",
    )
    p.set_defaults(func=cmd_bill)

    p = sub.add_parser(
        "billing-run", help="a billing run's status and failures; fail or resume a stuck run"
    )
    p.add_argument("run_id", type=int)
    p.add_argument("--fail", action="store_true", help="mark a run stuck in 'running' failed")
    p.add_argument(
        "--resume", action="store_true", help="mark a stuck run failed and start it again"
    )
    p.add_argument(
        "--force", action="store_true", help="also a run not past BILLING_RUN_TIMEOUT yet"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="the failures' tracebacks")
    p.set_defaults(func=cmd_billing_run)

    p = sub.add_parser(
        "statements",
        help="build the commission statements of every closed month not built yet",
    )
    p.add_argument(
        "--month", type=_month, help="YYYY-MM: build (or add new lines to) this month only"
    )
    p.add_argument("--csv", action="store_true", help="print each statement's lines as CSV")
    p.set_defaults(func=cmd_statements)

    p = sub.add_parser("dunning", help="block, deactivate and remind overdue customers")
    p.add_argument("--date", type=_date, help="as of this day (default: today; not later)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="list what the run would do (the run itself, rolled back); write nothing",
    )
    p.add_argument("--partner", type=int, help="an own-invoicing partner's own dunning")
    p.add_argument("-v", "--verbose", action="store_true", help="every customer and reminder")
    p.set_defaults(func=cmd_dunning)

    p = sub.add_parser("scheduler", help="run the daily work (billing, dunning, reminders)")
    p.add_argument("--once", action="store_true", help="run today's work once and exit")
    p.set_defaults(func=cmd_scheduler)

    p = sub.add_parser("customer", help="a customer's balance, open invoices and statement")
    p.add_argument("reference", help="customer number")
    p.add_argument("--from", dest="start", type=_date)
    p.add_argument("--to", dest="end", type=_date)
    p.set_defaults(func=cmd_customer)

    p = sub.add_parser(
        "partner-tariffs", help="a reseller's tariffs: availability and partner prices"
    )
    p.add_argument("--partner", type=int, required=True, help="the reseller's id")
    p.add_argument(
        "--make-all-available",
        action="store_true",
        help="make every active operator tariff available to it first",
    )
    p.set_defaults(func=cmd_partner_tariffs)

    p = sub.add_parser("serve", help="serve the web UI and API")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; 0.0.0.0: every interface)",
    )
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="start a Celery worker (needs CELERY_BROKER_URL)")
    p.add_argument("--concurrency", type=int, default=os.cpu_count() or 1)
    p.add_argument("--loglevel", default="warning")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser(
        "render-pdfs", help="render and store the PDF of every invoice and credit note without one"
    )
    p.add_argument("--batch", type=int, default=200, help="documents per progress line")
    p.set_defaults(func=cmd_render_pdfs)

    p = sub.add_parser("emails", help="count sent, queued and failed emails; retry failed ones")
    p.add_argument("--retry-failed", action="store_true", help="send the emails that failed again")
    p.add_argument(
        "--send-queued",
        action="store_true",
        help="send the emails still queued (their task was lost: `ispbill check` says so)",
    )
    p.add_argument(
        "--older-than",
        type=int,
        default=60,
        metavar="MINUTES",
        help="with --send-queued: only those queued at least this long (default 60)",
    )
    p.set_defaults(func=cmd_emails)
    radius_cli.add_parser(sub)
    radius_cli.add_usage_parser(sub)
    dataio_cli.add_parsers(sub)
    sepa_cli.add_parsers(sub)
    gateways_cli.add_parsers(sub)
    events_cli.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup()
    from django.db import DatabaseError

    try:
        return int(args.func(args))
    except DatabaseError as exc:
        print(f"error: the database refused the operation: {exc}", file=sys.stderr)
        print("hint: run 'ispbill migrate' first, and check DATABASE_URL.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
