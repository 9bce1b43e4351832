"""What the catalog tells the layers above it (docs/development.md, "Layers").

Receivers run inside the sender's transaction and their errors propagate, as a direct call
would; RADIUS connects its sync here (ispbill/radius/receivers.py)."""

from django.dispatch import Signal

# Sent after a tariff's speeds or kind changed (saved): ``tariff_id``.
tariff_access_changed = Signal()
