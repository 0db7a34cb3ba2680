"""The control-plane API: per-tenant settings, mappings, sync history and retries, on the ingress app."""
