"""Typed pydantic models of what Zoho and Moodle send, after field-name variants are resolved."""
