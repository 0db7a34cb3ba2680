"""A development emulator of Moodle's REST web services, with the signed webhooks of our plugin.

See docs/moodle-emulator.md for what it reproduces and where it is knowingly not faithful.
"""
