"""`python -m sinks.moodle`: the Moodle sink, with /metrics on MOODLE_SINK_METRICS_PORT."""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import start_http_server

from common.logs import setup_logging
from common.service import until_stopped
from common.settings import get_settings
from sinks.moodle.settings import MoodleSinkSettings, describe
from sinks.moodle.sink import Sink
from sinks.moodle.state import StateStore

log = logging.getLogger("moodle_sink")


async def main() -> None:
    common = get_settings()
    setup_logging("moodle-sink", common.log_level)
    # One line per HTTP call drowns the sink's own lines; the client counts calls in /metrics.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = MoodleSinkSettings()
    sites = settings.sites()
    state = await StateStore.connect(common.database_dsn())
    sink = Sink(settings, sites, common.kafka_bootstrap(), state)
    start_http_server(settings.metrics_port, addr="127.0.0.1")
    log.info("moodle sink started", extra={"group": settings.group_id, "sites": describe(sites),
                                           "metrics_port": settings.metrics_port})
    try:
        await until_stopped(sink.run)
    finally:
        await state.close()
    log.info("moodle sink stopped")


if __name__ == "__main__":
    asyncio.run(main())
