"""BTEC grade letters: from a 0–100 score, from the BTEC scale index, from Zoho's Grade picklist."""

from __future__ import annotations

import math

LETTERS: tuple[str, ...] = ("D", "M", "P", "R", "RR", "F")

# Inclusive lower bounds, highest first (docs/domain.md#btec-bands).
_BANDS: tuple[tuple[float, str], ...] = ((70.0, "D"), (60.0, "M"), (40.0, "P"))

# The BTEC grading form's result indexes the site scale "Refer,Pass,Merit,Distinction".
_SCALE: dict[int, str] = {1: "R", 2: "P", 3: "M", 4: "D"}

# Zoho orgs and the old plugin send long forms; keys are upper-cased, single-spaced.
_LONG_FORMS: dict[str, str] = {
    "DISTINCTION": "D",
    "MERIT": "M",
    "PASS": "P",
    "REFER": "R",
    "REFERRAL": "R",
    "DOUBLE REFER": "RR",
    "DOUBLE REFERRAL": "RR",
    "FAIL": "F",
    "FAILED": "F",
    "FAILED TO SUBMIT": "F",
}


def band_from_score(score: float) -> str:
    """Clamp to [0, 100]; ≥70 D, ≥60 M, ≥40 P, else R. NaN is not a score."""
    if math.isnan(score):
        raise ValueError("score is NaN")
    clamped = min(max(score, 0.0), 100.0)
    for lower, letter in _BANDS:
        if clamped >= lower:
            return letter
    return "R"


def percent(raw: float, maximum: float | None) -> float:
    """A points grade as 0–100; without a positive maximum the raw grade already is a percentage."""
    if maximum is None or maximum <= 0:
        return raw
    return raw * 100.0 / maximum


def letter_from_scale(index: int) -> str:
    try:
        return _SCALE[index]
    except KeyError:
        raise ValueError(f"BTEC scale index must be 1..4, got {index}") from None


def letter_from_text(value: str) -> str | None:
    """`D`, `m`, `Merit`, `Double Refer` → the letter; None when the value is not a known grade."""
    key = " ".join(value.split()).upper()
    if key in LETTERS:
        return key
    return _LONG_FORMS.get(key)
