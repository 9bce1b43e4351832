from django.apps import AppConfig


class RadiusConfig(AppConfig):
    name = "ispbill.radius"
    label = "radius"
    verbose_name = "RADIUS"
    default_auto_field = "django.db.models.BigAutoField"
