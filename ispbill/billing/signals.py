"""What billing tells the layers above it (docs/development.md, "Layers"). Receivers run
inside the sender's transaction; their errors propagate, as a direct call would. The outbox
records runs here (ispbill/events/receivers.py)."""

from django.dispatch import Signal

# Sent after a billing run's summary is written: ``run_id``.
billing_run_finished = Signal()
