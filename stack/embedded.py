"""The embedded stack as one object: Kafka + PostgreSQL + topics, started and stopped together."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass

from common.kafka_admin import ensure_topics
from common.settings import Settings
from common.tenants import TenantsConfig, ensure_tenants_file
from schemas.topics import contract_topics
from stack.config import StackConfig, service_port
from stack.kafka import Kafka
from stack.postgres import Postgres


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
        return ensure_topics(self.cfg.kafka_bootstrap, contract_topics(self.partitions))

    def _write_emulator_config(self, tenants: TenantsConfig) -> None:
        """The Zoho emulator's orgs (one per tenant) and the sink's accounts that reach them; the Moodle
        emulator's sites (one per tenant) and the web-service URL and token a Moodle sink uses for each.

        The org's workflow webhooks carry the tenant's ingress token, the site's plugin signs with the
        tenant's Moodle secret; the credentials are derived from those, so they stay the same across
        restarts and differ per tenant.
        """
        orgs, accounts, sites, moodle_sites = [], [], [], []
        emulator = f"http://127.0.0.1:{service_port('zoho emulator')}"
        moodle = f"http://127.0.0.1:{service_port('moodle emulator')}"
        for name, t in tenants.tenants.items():
            derived = hashlib.sha256(f"{t.zoho_webhook_token}|zoho-emulator".encode()).hexdigest()
            creds = {"client_id": "1000.EMULATORCLIENT", "client_secret": derived[:32],
                     "refresh_token": f"1000.{derived[32:]}"}
            orgs.append({"tenant": name, "webhook_token": t.zoho_webhook_token, **creds})
            accounts.append({"tenant": name, "accounts_url": emulator, "api_domain": emulator, **creds})
            wstoken = hashlib.sha256(f"{t.moodle_webhook_secret}|moodle-emulator".encode()).hexdigest()[:32]
            sites.append({"tenant": name, "wwwroot": f"{moodle}/{name}",
                          "moodle_webhook_secret": t.moodle_webhook_secret, "tokens": [{"token": wstoken}]})
            moodle_sites.append({"tenant": name, "url": moodle, "token": wstoken})
        files = {"zoho-emulator.json": {"orgs": orgs}, "zoho-accounts.json": {"accounts": accounts},
                 "moodle-emulator.json": {"sites": sites}, "moodle-sites.json": {"sites": moodle_sites}}
        for filename, content in files.items():
            path = self.cfg.root / filename
            path.write_text(json.dumps(content, indent=2))
            path.chmod(0o600)

    def stop(self) -> None:
        self.kafka.stop()
        self.postgres.stop()

    def reset(self) -> None:
        """Stop and delete every byte of data (topics, tables, secrets), the cluster's folder outside the stack too."""
        self.stop()
        self.postgres.remove()
        shutil.rmtree(self.cfg.root, ignore_errors=True)

    def status(self) -> list[dict[str, object]]:
        return [self.kafka.status(), self.postgres.status()]
