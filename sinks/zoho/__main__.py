"""`python -m sinks.zoho`: the Zoho sink, with /metrics on SINK_METRICS_PORT."""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import start_http_server

from common.logs import setup_logging
from common.service import until_stopped
from common.settings import get_settings
from common.zoho.budget import CreditLedger
from sinks.zoho.settings import SinkSettings, describe
from sinks.zoho.sink import Sink
from sinks.zoho.state import StateStore

log = logging.getLogger("zoho_sink")


async def main() -> None:
    common = get_settings()
    setup_logging("zoho-sink", common.log_level)
    # One line per HTTP call drowns the sink's own lines; the client counts calls in /metrics.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = SinkSettings()
    tenants = settings.tenants()
    state = await StateStore.connect(common.database_dsn())
    ledger = await CreditLedger.connect(common.database_dsn())
    sink = Sink(settings, tenants, common.kafka_bootstrap(), state, ledger)
    start_http_server(settings.metrics_port, addr="127.0.0.1")
    log.info("zoho sink started", extra={"group": settings.group_id, "tenants": describe(tenants),
                                         "metrics_port": settings.metrics_port})
    try:
        await until_stopped(sink.run)
    finally:
        await state.close()
        await ledger.close()
    log.info("zoho sink stopped")


if __name__ == "__main__":
    asyncio.run(main())
