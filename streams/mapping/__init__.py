"""Source models → canonical payloads (dicts shaped like the Avro entity records)."""
