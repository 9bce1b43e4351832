"""SEPA direct debit (Core): creditor settings per issuer, mandates, pre-notifications on
invoices, collection batches as pain.008 files, and returns (R-transactions) from camt.054
and pain.002 (docs/payments.md)."""
