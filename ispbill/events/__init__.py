"""Events out: a durable outbox of what happened (written in the same transaction as the
change) and signed webhook deliveries of it to operator and partner endpoints
(docs/webhooks.md)."""
