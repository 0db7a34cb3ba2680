"""The control plane service: `/control/v1`, per tenant, with its own port, health and metrics."""
