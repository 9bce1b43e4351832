from django.apps import AppConfig


class GatewaysConfig(AppConfig):
    name = "ispbill.gateways"
    label = "gateways"
    verbose_name = "Payment gateways"

    def ready(self) -> None:
        from ispbill.gateways import checks

        assert checks  # registers the gateway invariants of ``ispbill check``
