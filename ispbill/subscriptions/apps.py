from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "ispbill.subscriptions"
    label = "subscriptions"

    def ready(self) -> None:
        from ispbill.subscriptions import checks  # noqa: F401  (registers its invariants)
