"""Field types shared by the source models: ids, lookups, text, names, emails, numbers, times.

Each is an `Annotated` type whose validator explains a rejection in the registrar's words;
those messages end up in dead letters.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from streams.rules.emails import normalise_email

# Ids become topic keys `tenant/entity-id`: no whitespace or slashes, bounded length.
_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")


def to_id(value: Any) -> str | None:
    """A record id as text. Numbers are accepted only as exact integers: a float id has already
    lost digits (4876876000000412001 as a double is ...412000)."""
    if value is None:
        return None
    if isinstance(value, bool | float):
        raise ValueError(f"ids are strings of digits; got the number {value!r}, which may have lost precision")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("ids are never negative")
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if not _ID.match(text):
            raise ValueError("ids are 1–64 letters, digits or _.:@- characters")
        return text
    raise ValueError(f"an id must be a string, got {type(value).__name__}")


class Lookup:
    """A Zoho lookup: `{"id": "...", "name": "..."}` or a bare id."""

    __slots__ = ("id", "name")

    def __init__(self, id: str, name: str | None) -> None:
        self.id = id
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Lookup) and (self.id, self.name) == (other.id, other.name)

    def __hash__(self) -> int:
        return hash((self.id, self.name))

    def __repr__(self) -> str:
        return f"Lookup({self.id!r}, {self.name!r})"


def to_lookup(value: Any) -> Lookup | None:
    if isinstance(value, dict):
        ref = to_id(value.get("id"))
        return None if ref is None else Lookup(ref, to_text(value.get("name")))
    ref = to_id(value)
    return None if ref is None else Lookup(ref, None)


def to_text(value: Any) -> str | None:
    """Trimmed text; empty becomes absent. Numbers are accepted as their decimal text."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        return text or None
    if isinstance(value, bool):
        raise ValueError("expected text, got a boolean")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("expected text, got a non-finite number")
        return repr(value)
    raise ValueError(f"expected text, got {type(value).__name__}")


def check_name(value: str | None) -> str | None:
    if value is not None and len(value) < 2:
        raise ValueError("names need at least 2 characters")
    return value


def check_email(value: str | None) -> str | None:
    return None if value is None else normalise_email(value)


def to_int(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError("expected a whole number, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(f"expected a whole number, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?\d{1,18}", text):
            return int(text)
        if re.fullmatch(r"[+-]?\d{1,18}\.0*", text):
            return int(text.split(".")[0])
        raise ValueError("expected a whole number")
    raise ValueError(f"expected a whole number, got {type(value).__name__}")


def to_float(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    try:
        number = float(value) if isinstance(value, int | float | str) else math.nan
    except ValueError:
        raise ValueError("expected a number") from None
    if not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number


def to_decimal_text(value: Any) -> str | None:
    """Money as exact decimal text (`1500.50`), never a float."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("expected an amount")
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError("expected an amount") from None
    if not amount.is_finite() or abs(amount) >= Decimal(10) ** 15:
        raise ValueError("amount out of range")
    return format(amount, "f")


def to_date(value: Any) -> date | None:
    """`2026-10-30` or the date part of an ISO date-time."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise ValueError("expected a date like 2026-10-30") from None
    raise ValueError("expected a date like 2026-10-30")


def iso_to_ms(value: Any) -> int | None:
    """An ISO 8601 date-time (Zoho sends `2026-11-02T09:14:03+03:00`) or an epoch number as epoch
    milliseconds. Without an offset the time is taken as UTC."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**14:
        # Zoho Functions may send epoch numbers: seconds below 10^11 (year 5138), else milliseconds.
        return value * 1000 if value < 10**11 else value
    if not isinstance(value, str):
        raise ValueError("expected a date-time like 2026-11-02T09:14:03+03:00")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("expected a date-time like 2026-11-02T09:14:03+03:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def epoch_s_to_ms(value: Any) -> int | None:
    """Moodle times are epoch seconds."""
    seconds = to_int(value)
    if seconds is None:
        return None
    if not 0 <= seconds < 10**11:
        raise ValueError("expected epoch seconds")
    return seconds * 1000


RecordId = Annotated[str, BeforeValidator(to_id)]
OptId = Annotated[str | None, BeforeValidator(to_id)]
OptLookup = Annotated[Lookup | None, BeforeValidator(to_lookup)]
RequiredLookup = Annotated[Lookup, BeforeValidator(to_lookup)]
Text = Annotated[str | None, BeforeValidator(to_text)]
RequiredText = Annotated[str, BeforeValidator(to_text)]
Name = Annotated[str | None, BeforeValidator(to_text), AfterValidator(check_name)]
RequiredName = Annotated[str, BeforeValidator(to_text), AfterValidator(check_name)]
Email = Annotated[str | None, BeforeValidator(to_text), AfterValidator(check_email)]
RequiredEmail = Annotated[str, BeforeValidator(to_text), AfterValidator(check_email)]
OptInt = Annotated[int | None, BeforeValidator(to_int)]
OptFloat = Annotated[float | None, BeforeValidator(to_float)]
Amount = Annotated[str | None, BeforeValidator(to_decimal_text)]
OptDate = Annotated[date | None, BeforeValidator(to_date)]
IsoMs = Annotated[int | None, BeforeValidator(iso_to_ms)]
EpochMs = Annotated[int | None, BeforeValidator(epoch_s_to_ms)]
