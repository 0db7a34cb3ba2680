"""The Zoho puller: each tenant's Zoho records (a first full load, then what changed or was deleted) appended to
`raw.zoho` like webhooks, within the tenant's daily API credit budget."""
