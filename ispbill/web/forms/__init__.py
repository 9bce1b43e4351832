"""Forms of the web UI, one module per domain: they parse and validate input; services
do the writing."""
