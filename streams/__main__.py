"""`python -m streams worker -l info`: a faust worker running every stage."""

from __future__ import annotations

from common.logs import setup_logging
from common.settings import get_settings
from streams import (
    agents,  # noqa: F401  (registers the agents)
    ticks,  # noqa: F401  (registers the timer)
)
from streams.app import app

if __name__ == "__main__":
    setup_logging("streams", get_settings().log_level)
    app.main()
