"""What commission tells the layers above it (docs/development.md, "Layers"). Receivers run
inside the sender's transaction; their errors roll it back, as a direct call would. The
outbox records statements here (ispbill/events/receivers.py)."""

from django.dispatch import Signal

# Sent after a commission statement was approved or paid (saved): ``statement``.
commission_statement_changed = Signal()
