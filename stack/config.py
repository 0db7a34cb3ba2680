"""Where the embedded stack lives and which ports it listens on."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from common.settings import EMBEDDED_PG_DB, EMBEDDED_PG_USER, PROJECT_ROOT, embedded_database, embedded_kafka


@dataclass(frozen=True)
class StackConfig:
    root: Path
    kafka_port: int = 19092
    controller_port: int = 19093
    pg_port: int = 15432
    pg_user: str = EMBEDDED_PG_USER
    pg_db: str = EMBEDDED_PG_DB
    kafka_heap: str = "512m"

    @classmethod
    def from_env(cls, root: Path | None = None) -> StackConfig:
        return cls(
            root=Path(root or os.environ.get("STACK_DIR") or PROJECT_ROOT / ".stack").resolve(),
            kafka_port=int(os.environ.get("STACK_KAFKA_PORT", 19092)),
            controller_port=int(os.environ.get("STACK_CONTROLLER_PORT", 19093)),
            pg_port=int(os.environ.get("STACK_PG_PORT", 15432)),
        )

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
