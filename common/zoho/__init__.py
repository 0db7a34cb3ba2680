"""A typed, async Zoho CRM API client shared by the Zoho sink and the Zoho puller: OAuth, retries, credits."""
