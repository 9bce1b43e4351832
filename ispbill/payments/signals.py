"""What payments tell the layers above them (docs/development.md, "Layers"). Receivers run
inside the payment's transaction; their errors roll it back, as a direct call would.
Commission accrues on the paid base here (ispbill/commission/receivers.py)."""

from django.dispatch import Signal

# Sent after allocation rows are written (negative amounts: allocations undone):
# ``allocations`` = [(allocation id, invoice, amount_minor, date)].
allocations_written = Signal()

# Sent after a payment is recorded (and allocated): ``payment`` (the Payment).
payment_received = Signal()

# Sent after money of a payment went back to the customer (a refund of unallocated credit,
# or the whole payment reversed: a SEPA return, a card chargeback or refund): ``payment``,
# ``refund`` (the Refund), ``reversed`` (True: the payment was taken back whole and its
# invoices are open again).
payment_returned = Signal()
