"""Email checks: syntax (email-validator, no DNS) and the per-tenant academic domain rule."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email


@lru_cache(maxsize=65536)
def _normalised(address: str) -> str:
    return validate_email(address, check_deliverability=False).normalized


def normalise_email(address: str) -> str:
    """The address with its domain lower-cased; ValueError with the reason when it is malformed."""
    try:
        return _normalised(address)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None


def on_domains(address: str, domains: Iterable[str]) -> bool:
    """True when the address's domain is one of `domains` or a subdomain of one."""
    domain = address.rpartition("@")[2].lower()
    return any(domain == d or domain.endswith("." + d) for d in (d.lower().lstrip("@") for d in domains))
