"""A development emulator of the Zoho CRM REST API v8 (records, OAuth, limits, workflow webhooks).

See docs/zoho-emulator.md for what it reproduces and where it is knowingly not faithful.
"""
