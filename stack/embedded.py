"""The embedded stack as one object: Kafka + PostgreSQL + topics, started and stopped together."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass

from common.settings import Settings
from common.tenants import TenantsConfig, ensure_tenants_file
from stack.config import StackConfig
from stack.kafka import Kafka
from stack.postgres import Postgres
from stack.topics import ensure_topics


@dataclass
class EmbeddedStack:
    cfg: StackConfig
    partitions: int = 4
    fast_postgres: bool = False

    def __post_init__(self) -> None:
        self.kafka = Kafka(self.cfg)
        self.postgres = Postgres(self.cfg, fast=self.fast_postgres)

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddedStack:
        return cls(StackConfig.from_env(settings.stack_dir), partitions=settings.topic_partitions)

    def start(self, default_tenant: str = "default") -> dict[str, str]:
        self.cfg.root.mkdir(parents=True, exist_ok=True)
        tenants = ensure_tenants_file(self.cfg.root / "tenants.json", default_tenant)
        self._write_emulator_config(tenants)
        self.kafka.start()
        self.postgres.start()
        return ensure_topics(self.cfg.kafka_bootstrap, self.partitions)

    def _write_emulator_config(self, tenants: TenantsConfig) -> None:
        """The Zoho emulator's orgs: one per tenant, whose workflow webhooks carry that tenant's token."""
        orgs = [{"tenant": name, "webhook_token": t.zoho_webhook_token} for name, t in tenants.tenants.items()]
        path = self.cfg.root / "zoho-emulator.json"
        path.write_text(json.dumps({"orgs": orgs}, indent=2))
        path.chmod(0o600)

    def stop(self) -> None:
        self.kafka.stop()
        self.postgres.stop()

    def reset(self) -> None:
        """Stop and delete every byte of data (topics, tables, secrets)."""
        self.stop()
        shutil.rmtree(self.cfg.root, ignore_errors=True)

    def status(self) -> list[dict[str, object]]:
        return [self.kafka.status(), self.postgres.status()]
