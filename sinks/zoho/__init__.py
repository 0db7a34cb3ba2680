"""The Zoho sink: writes Moodle-originated changes into Zoho CRM. `client` is its typed Zoho API client."""
