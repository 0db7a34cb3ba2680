"""Inbound connectors that fetch what a source never sent (Zoho's webhooks are not retried) into `raw.*`."""
