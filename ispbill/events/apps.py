from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "ispbill.events"
    label = "events"
    verbose_name = "Events and webhooks"

    def ready(self) -> None:
        from ispbill.events import checks, receivers

        assert receivers  # connects the outbox to the apps' signals
        assert checks  # registers its invariants
