"""Celery application: eager (in-process) unless CELERY_BROKER_URL is set."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ispbill.settings")

app = Celery("ispbill")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The daily work (billing, dunning, reminders) at 02:00 when a broker and beat are running.
app.conf.beat_schedule = {
    "ispbill-daily-work": {
        "task": "ispbill.billing.tasks.daily_work_task",
        "schedule": crontab(hour=2, minute=0),
    },
}
