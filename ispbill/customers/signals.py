"""What the customers app tells the layers above it (docs/development.md, "Layers").

Receivers run inside the sender's transaction and their errors propagate, as a direct call
would; RADIUS connects its sync here (ispbill/radius/receivers.py)."""

from django.dispatch import Signal

# Sent after customers' statuses changed (saved): ``customer_ids``, and ``previous``
# ({customer id: the status before}).
customers_status_changed = Signal()

# Sent when customers became active again after blocking or deactivation, by hand or by a
# payment (not the sub-customers that follow their partner's account): ``customers``,
# ``actor``, ``on``. Billing charges the issuer's reconnection fee (ispbill/billing/fees.py).
customers_reconnected = Signal()
