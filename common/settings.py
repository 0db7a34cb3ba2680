"""Process configuration, read from the environment (12-factor).

Every service reads the same names, so the embedded stack, docker-compose and a real
cluster differ only in these variables.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The embedded stack's database role and name (stack/ creates them; every service connects with them).
EMBEDDED_PG_USER = "mzsync"
EMBEDDED_PG_DB = "mzsync"


def embedded_kafka(port: int) -> str:
    return f"127.0.0.1:{port}"


def embedded_database(port: int) -> str:
    return f"postgresql://{EMBEDDED_PG_USER}@127.0.0.1:{port}/{EMBEDDED_PG_DB}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    # Unset means "the embedded stack" on 127.0.0.1 at the STACK_*_PORT ports.
    kafka_bootstrap_servers: str | None = Field(default=None, alias="KAFKA_BOOTSTRAP_SERVERS")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    stack_dir: Path = Field(default=PROJECT_ROOT / ".stack", alias="STACK_DIR")
    stack_kafka_port: int = Field(default=19092, alias="STACK_KAFKA_PORT")
    stack_pg_port: int = Field(default=15432, alias="STACK_PG_PORT")

    topic_partitions: int = Field(default=4, alias="TOPIC_PARTITIONS")
    topic_replication: int = Field(default=1, alias="TOPIC_REPLICATION")

    tenants_file: Path | None = Field(default=None, alias="TENANTS_FILE")
    tenants_json: str | None = Field(default=None, alias="TENANTS_JSON")
    default_tenant: str = Field(default="default", alias="DEFAULT_TENANT")

    ingress_max_body_bytes: int = Field(default=1024 * 1024, alias="INGRESS_MAX_BODY_BYTES")
    ingress_delivery_timeout_s: float = Field(default=5.0, alias="INGRESS_DELIVERY_TIMEOUT_S")
    ingress_retry_after_s: int = Field(default=5, alias="INGRESS_RETRY_AFTER_S")
    signature_tolerance_s: int = Field(default=300, alias="SIGNATURE_TOLERANCE_S")

    projections_schema: str = Field(default="projections", alias="PROJECTIONS_SCHEMA")
    # The operator's key for the control plane's tenant routes; unset means the tenants file's `operator_key`.
    control_operator_key: str | None = Field(default=None, alias="CONTROL_OPERATOR_KEY")
    control_rate_per_s: float = Field(default=5.0, alias="CONTROL_RATE_PER_S")
    control_burst: int = Field(default=20, alias="CONTROL_BURST")

    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    log_requests: bool = Field(default=True, alias="LOG_REQUESTS")
    ingress_enable_noop: bool = Field(default=False, alias="INGRESS_ENABLE_NOOP")

    def kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap_servers or embedded_kafka(self.stack_kafka_port)

    def max_record_bytes(self) -> int:
        """The largest record any service produces: librdkafka refuses over 1,000,000 bytes by default, under
        the ingress's own limit, so the largest body it takes (and what is derived from it: events, retries, dead
        letters) needs the room, plus key and headers. The broker checks compressed batches against its own."""
        return self.ingress_max_body_bytes + 64 * 1024

    def database_dsn(self) -> str:
        return self.database_url or embedded_database(self.stack_pg_port)

    def resolved_tenants_file(self) -> Path:
        return self.tenants_file or self.stack_dir / "tenants.json"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
