"""`python -m streams worker -l info`: a faust worker running every stage."""

from __future__ import annotations

from streams import (
    agents,  # noqa: F401  (registers the agents)
    ticks,  # noqa: F401  (registers the timer)
)
from streams.app import app

if __name__ == "__main__":
    app.main()
