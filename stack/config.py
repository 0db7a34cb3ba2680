"""Where the embedded stack lives and which ports it listens on."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from common.settings import EMBEDDED_PG_DB, EMBEDDED_PG_USER, PROJECT_ROOT, embedded_database, embedded_kafka

Port = Literal["kafka_port", "controller_port", "pg_port"]
# The variables `from_env` reads: also what a "port is taken" message tells the operator to set.
PORT_VARIABLES: dict[Port, str] = {"kafka_port": "STACK_KAFKA_PORT", "controller_port": "STACK_CONTROLLER_PORT",
                                   "pg_port": "STACK_PG_PORT"}

# The services `make run` starts beside the stack (the Procfile): the variable that moves each one's port, and
# its default.
SERVICE_PORTS: dict[str, tuple[str, int]] = {
    "ingress": ("INGRESS_PORT", 8000),
    "control plane": ("CONTROL_PORT", 8001),
    "streams": ("STREAMS_WEB_PORT", 6066),
    "projector": ("PROJECTOR_METRICS_PORT", 6068),
    "zoho sink": ("SINK_METRICS_PORT", 6070),
    "zoho puller": ("PULLER_METRICS_PORT", 6072),
    "zoho emulator": ("ZOHO_EMULATOR_PORT", 8090),
    "moodle emulator": ("MOODLE_EMULATOR_PORT", 8091),
}


def service_port(service: str) -> int:
    variable, default = SERVICE_PORTS[service]
    return int(os.environ.get(variable, default))


@dataclass(frozen=True)
class StackConfig:
    root: Path
    kafka_port: int = 19092
    controller_port: int = 19093
    pg_port: int = 15432
    pg_user: str = EMBEDDED_PG_USER
    pg_db: str = EMBEDDED_PG_DB
    kafka_heap: str = "512m"
    # A stack whose ports all move with one variable (the test and benchmark stacks' offsets) names it here.
    port_variable: str | None = None

    @classmethod
    def from_env(cls, root: Path | None = None) -> StackConfig:
        return cls(
            root=Path(root or os.environ.get("STACK_DIR") or PROJECT_ROOT / ".stack").resolve(),
            kafka_port=int(os.environ.get(PORT_VARIABLES["kafka_port"], 19092)),
            controller_port=int(os.environ.get(PORT_VARIABLES["controller_port"], 19093)),
            pg_port=int(os.environ.get(PORT_VARIABLES["pg_port"], 15432)),
        )

    def moved_by(self, port: Port) -> str:
        """The environment variable that moves `port` elsewhere."""
        return self.port_variable or PORT_VARIABLES[port]

    @property
    def kafka_bootstrap(self) -> str:
        return embedded_kafka(self.kafka_port)

    @property
    def database_url(self) -> str:
        return embedded_database(self.pg_port)

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def kafka_dir(self) -> Path:
        return self.root / "kafka"

    @property
    def pg_dir(self) -> Path:
        return self.root / "postgres"
