"""`python -m pullers.zoho`: the Zoho puller, with /metrics on PULLER_METRICS_PORT."""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import start_http_server

from common.logs import setup_logging
from common.service import until_stopped
from common.settings import get_settings
from common.zoho.budget import CreditLedger
from pullers.zoho.puller import Puller
from pullers.zoho.settings import PullerSettings
from pullers.zoho.state import PullState

log = logging.getLogger("zoho_puller")


async def main() -> None:
    common = get_settings()
    setup_logging("zoho-puller", common.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = PullerSettings()
    tenants = settings.tenants()
    state = await PullState.connect(common.database_dsn())
    ledger = await CreditLedger.connect(common.database_dsn())
    puller = Puller(settings, tenants, common.kafka_bootstrap(), state, ledger)
    start_http_server(settings.metrics_port, addr="127.0.0.1")
    log.info("zoho puller started", extra={"tenants": sorted(puller.tenants), "metrics_port": settings.metrics_port})
    try:
        await until_stopped(puller.run)
    finally:
        await state.close()
        await ledger.close()
    log.info("zoho puller stopped")


if __name__ == "__main__":
    asyncio.run(main())
