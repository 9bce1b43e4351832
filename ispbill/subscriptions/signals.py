"""What the subscriptions app tells the layers above it (docs/development.md, "Layers").

Receivers run inside the sender's transaction and their errors propagate, as a direct call
would; RADIUS connects its sync here (ispbill/radius/receivers.py)."""

from django.dispatch import Signal

# Sent after services changed (saved): ``service_ids``.
services_changed = Signal()

# Sent when a service was stopped (disconnected): ``service``, ``actor``. Billing charges the
# issuer's disconnection fee (ispbill/billing/fees.py).
service_stopped = Signal()

# Sent after a service was created (saved): ``service`` (the Service).
service_created = Signal()
