"""What invoicing tells the layers above it (docs/development.md, "Layers"). Receivers run
inside the issuing transaction, in the order connected; their errors roll it back, as a
direct call would. Commission accrues here (ispbill/commission/receivers.py)."""

from django.dispatch import Signal

# Sent once per batch of issued invoices, after their lines and ledger entries are written:
# ``invoices`` (IssuedInvoice values) and ``lines`` (invoice id -> [(tariff id, amount)]).
invoices_issued = Signal()

# Sent after a credit note and its ledger entry are written: ``credit_note_id``,
# ``invoice`` (the credited Invoice), ``net_minor``, ``on`` (the issue date).
credit_note_issued = Signal()

# Sent by ``invoices_number`` once a batch of issued invoices carries its real numbers and
# every row is written: ``invoices`` (IssuedInvoice values), ``in_run`` (a billing run's chunk:
# the run's end, ``billing_run_finished``, follows). What tells the outside world
# about an invoice (the event outbox) listens here, so it never sees a placeholder number.
invoices_numbered = Signal()
