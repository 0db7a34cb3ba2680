"""The emulator's state: orgs with their records and limits, tokens, clock, faults, call log, webhooks."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

from stack.zoho_emulator.calls import CallLog
from stack.zoho_emulator.clock import Clock
from stack.zoho_emulator.config import EmulatorConfig, Faults, OrgConfig
from stack.zoho_emulator.limits import OrgLimits
from stack.zoho_emulator.listing import PageTokens
from stack.zoho_emulator.metrics import EmulatorMetrics
from stack.zoho_emulator.oauth import TokenAuthority
from stack.zoho_emulator.records import RecordService
from stack.zoho_emulator.store import OrgStore
from stack.zoho_emulator.webhooks import WebhookDispatcher

# OrgConfig keys `POST /__emulator/orgs/{tenant}/profile` may change (scope for tokens issued afterwards).
PROFILE_KEYS = {"scope", "read_only_modules", "no_access_modules", "daily_credits"}


@dataclass
class Org:
    config: OrgConfig
    store: OrgStore
    limits: OrgLimits
    records: RecordService
    page_tokens: PageTokens


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        if len({org.tenant for org in config.orgs}) != len(config.orgs):
            raise ValueError("org tenants must be unique")
        self.config = config
        self.clock = Clock()
        self.metrics = EmulatorMetrics()
        self.modules = config.resolved_modules()
        self.authority = TokenAuthority(config.oauth, config.orgs, self.clock)
        self.orgs: dict[str, Org] = {}
        # The profile settings the admin API may change at run time, restored by reset.
        self._profiles = {org.tenant: org.model_dump(include=PROFILE_KEYS) for org in config.orgs}
        for org in config.orgs:
            store = OrgStore(org, config.resolved_modules(org), self.clock)
            self.orgs[org.tenant] = Org(org, store, OrgLimits(org, self.clock), RecordService(store, config.behaviour),
                                        PageTokens(self.clock, config.behaviour.page_token_ttl_s,
                                                   config.behaviour.page_token_limit))
        self.calls = CallLog(config.call_log_size)
        self.webhooks = WebhookDispatcher(config.webhooks, self.clock, self.metrics)
        # Bumped by reset, so a call that hung across a reset does not write into the fresh state.
        self.generation = 0
        self.set_faults(config.faults)

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)

    def next_fault(self) -> str | None:
        """The fault to inject into this call: scripted ones first, then the configured rates."""
        if self.faults.next:
            return self.faults.next.pop(0)
        for kind, rate in (("timeout", self.faults.timeout_rate), ("500", self.faults.error_rate),
                           ("429", self.faults.rate_429)):
            if rate and self._rng.random() < rate:
                return kind
        return None

    def default_tenant(self) -> str:
        return self.config.orgs[0].tenant

    def reset(self) -> None:
        self.generation += 1
        self.clock.reset()
        self.authority.reset()
        for org in self.orgs.values():
            org.store.reset()
            org.limits.reset()
            org.page_tokens.reset()
            for key, value in self._profiles[org.config.tenant].items():
                setattr(org.config, key, copy.deepcopy(value))
        self.calls.clear()
        self.webhooks.deliveries.clear()
        self.set_faults(self.config.faults.model_copy(deep=True))
