"""Outbound connectors: canonical events written into the systems the college uses (Zoho CRM, Moodle)."""
