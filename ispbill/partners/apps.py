from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def home_partner_ensure(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """The home partner exists after every migrate and every flush (idempotent)."""
    from ispbill.partners.models import Partner, PartnerMode

    if not Partner.objects.using(using).filter(is_home=True).exists():
        Partner.objects.using(using).create(
            name="Main", legal_name="Main", mode=PartnerMode.DIRECT, is_home=True
        )


class PartnersConfig(AppConfig):
    name = "ispbill.partners"
    label = "partners"

    def ready(self) -> None:
        from ispbill.partners import checks  # noqa: F401  (registers its invariants)

        post_migrate.connect(home_partner_ensure, sender=self, dispatch_uid="home_partner_ensure")
