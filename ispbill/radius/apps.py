from django.apps import AppConfig


class RadiusConfig(AppConfig):
    name = "ispbill.radius"
    label = "radius"
    verbose_name = "RADIUS"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ispbill.radius.receivers import radius_receivers_connect

        radius_receivers_connect()
