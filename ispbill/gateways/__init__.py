"""Online payments through a payment gateway (Stripe): per-issuer credentials, payment
sessions, webhooks, refunds and autopay (docs/payments.md, "Online payments")."""
