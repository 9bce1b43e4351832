from django.apps import AppConfig


class DunningConfig(AppConfig):
    """Dunning (blocking, deactivation, reminders) and the daily work that runs billing then
    dunning: the top of the domain, above billing and payments. Its rows are customers' and
    invoicing's models; this app holds no model of its own."""

    name = "ispbill.dunning"
    label = "dunning"
