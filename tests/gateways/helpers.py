"""Builders of the gateway tests."""

from __future__ import annotations

from ispbill.gateways.models import GatewaySettings
from ispbill.gateways.services import gateway_settings_save
from ispbill.partners.models import Partner

HOME_KEY = "sk_test_51HomeHomeHomeKey4242"
HOME_WHSEC = "whsec_homehomehomesecret0001"
OWN_KEY = "sk_test_51OwnOwnOwnOwnKey9999"
OWN_WHSEC = "whsec_ownownownownsecret0002"


def gateway(partner: Partner, key: str = HOME_KEY, whsec: str = HOME_WHSEC) -> GatewaySettings:
    return gateway_settings_save(
        partner=partner,
        enabled=True,
        publishable_key="pk_test_51Publishable",
        secret_key=key,
        webhook_secret=whsec,
    )
