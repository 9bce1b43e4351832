from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "ispbill.events"
    label = "events"
    verbose_name = "Events and webhooks"

    def ready(self) -> None:
        from ispbill.events import receivers

        assert receivers  # connects the outbox to the apps' signals
