"""The last things the sinks did, from `zoho.outcomes` and `moodle.outcomes`."""

from __future__ import annotations

from typing import Any

from common.log import tail
from schemas.codec import UnknownSchemaError, decode
from schemas.topics import ZOHO_OUTCOMES


def last_outcomes(bootstrap: str, n: int, tenant: str | None = None, topic: str = ZOHO_OUTCOMES
                  ) -> list[dict[str, Any]]:
    """Newest last. With a tenant, the last `n` of the topic's tail are filtered, not the last `n` of the tenant."""
    out = []
    for record in tail(bootstrap, topic, n):
        try:
            _, outcome = decode(record.value or b"")
        except UnknownSchemaError:
            continue
        if tenant is None or outcome["tenant"] == tenant:
            out.append(outcome)
    return out
