"""Celery application: eager (in-process) unless CELERY_BROKER_URL is set."""

import os
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import task_postrun, task_prerun
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ispbill.settings")

app = Celery("ispbill")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Database connections outlive a task, as they outlive a request (CONN_MAX_AGE): Celery's
# Django fixup closes them after every task unless told to reuse them, and a new PostgreSQL
# backend per billing chunk cost a process and a cold catalog cache each time. Django's own
# rule closes the ones too old or broken, before and after every task.
app.conf.CELERY_DB_REUSE_MAX = 2**31

# Three queues, all taken by every worker (``task_queues``; kombu polls them in turn): the
# default one; ``ispbill.first`` for work the rest of a job waits on, such as a partner's
# aggregation during a billing run, which is sent while the run's other chunks are queued
# and should not wait behind them; and ``ispbill.documents`` for the issued documents' PDFs
# and the e-mails, which a billing run sends by the hundred while its chunks and its
# summary are still to come: in a queue of their own those wait behind one task at most,
# not behind every PDF of the chunks before (docs/performance.md, "PDFs and e-mails").
# A worker started with ``-Q`` must name all three.
app.conf.task_queues = [Queue("celery"), Queue("ispbill.first"), Queue("ispbill.documents")]
app.conf.task_routes = {
    "ispbill.billing.tasks.billing_aggregate_partner_task": {"queue": "ispbill.first"},
    "ispbill.invoicing.tasks.invoices_pdf_render_task": {"queue": "ispbill.documents"},
    "ispbill.invoicing.tasks.credit_notes_pdf_render_task": {"queue": "ispbill.documents"},
    "ispbill.invoicing.tasks.email_delivery_send_task": {"queue": "ispbill.documents"},
    "ispbill.invoicing.tasks.email_deliveries_send_task": {"queue": "ispbill.documents"},
    "ispbill.invoicing.tasks.invoices_deliver_task": {"queue": "ispbill.documents"},
    "ispbill.events.tasks.webhooks_deliver_task": {"queue": "ispbill.documents"},
}


@task_prerun.connect
@task_postrun.connect
def _connections_tidy(task: Any = None, **kwargs: Any) -> None:
    if task is None or getattr(task.request, "is_eager", False):
        return  # in-process (eager) tasks run inside the caller's connection and transaction
    from django.db import close_old_connections

    close_old_connections()


# The daily work (billing, dunning, reminders) at 02:00 when a broker and beat are running.
app.conf.beat_schedule = {
    # Traffic from RADIUS accounting, caps and last month's overage (docs/usage.md): hourly,
    # so caps bite within the hour; the 01:30 run charges the closed month before billing.
    "ispbill-usage-collect": {
        "task": "ispbill.radius.tasks.usage_collect_task",
        "schedule": crontab(minute=30),
    },
    "ispbill-daily-work": {
        "task": "ispbill.dunning.tasks.daily_work_task",
        "schedule": crontab(hour=2, minute=0),
    },
    # Due invoices charged to saved cards, after the day's invoices are issued.
    "ispbill-autopay": {
        "task": "ispbill.gateways.tasks.autopay_task",
        "schedule": crontab(hour=3, minute=0),
    },
    # Webhook deliveries due (first attempts are also sent right after their events commit).
    "ispbill-webhooks": {
        "task": "ispbill.events.tasks.webhooks_deliver_task",
        "schedule": 30.0,
    },
}
