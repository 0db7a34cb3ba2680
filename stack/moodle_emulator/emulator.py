"""The emulator's state: sites with their data and tokens, faults, call log, webhooks."""

from __future__ import annotations

from dataclasses import dataclass

from stack.moodle_emulator.calls import CallLog
from stack.moodle_emulator.config import EMULATED_FUNCTIONS, EmulatorConfig, Faults, SiteConfig, TokenConfig
from stack.moodle_emulator.metrics import EmulatorMetrics
from stack.moodle_emulator.store import PendingEvent, SiteStore
from stack.moodle_emulator.webhooks import WebhookDispatcher


@dataclass
class Site:
    config: SiteConfig
    store: SiteStore


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.metrics = EmulatorMetrics()
        self.calls = CallLog(config.call_log_size, frozenset(EMULATED_FUNCTIONS))
        self.webhooks = WebhookDispatcher(config.webhooks, self.metrics)
        # The plugin's per-record event counter, per site: (tenant, record) → last sequence sent.
        self._sequences: dict[tuple[str, str], int] = {}
        self.sites: dict[str, Site] = {}
        for site in config.sites:
            self.sites[site.tenant] = Site(site, SiteStore(site, self._committer(site)))
        self.tokens: dict[str, tuple[Site, TokenConfig]] = {
            t.token: (self.sites[s.tenant], t) for s in config.sites for t in s.tokens}
        self.set_faults(config.faults)

    def _committer(self, site: SiteConfig) -> _Committer:
        return _Committer(self, site)

    def committed(self, site: SiteConfig, events: list[PendingEvent]) -> None:
        """The call's transaction committed: the plugin's outbox rows become deliveries."""
        assert site.moodle_webhook_secret is not None  # events are only recorded for a configured plugin
        for event in events:
            key = (site.tenant, event.record)
            sequence = self._sequences.get(key, 0) + 1
            self._sequences[key] = sequence
            envelope = {"event_type": event.event_type, "event_name": event.event_name, "timestamp": event.at,
                        "site_url": site.wwwroot, "sequence": sequence, "data": event.build()}
            self.webhooks.send(site.tenant, site.moodle_webhook_secret, envelope, event.record)

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults

    def next_fault(self) -> str | None:
        return self.faults.next.pop(0) if self.faults.next else None

    def site(self, tenant: str | None) -> Site | None:
        return self.sites.get(tenant or self.config.sites[0].tenant)

    def reset(self) -> None:
        for site in self.sites.values():
            site.store.reset()
        self._sequences.clear()
        self.calls.clear()
        self.webhooks.reset()
        self.set_faults(self.config.faults.model_copy(deep=True))


@dataclass(frozen=True)
class _Committer:
    emulator: Emulator
    site: SiteConfig

    def __call__(self, events: list[PendingEvent]) -> None:
        self.emulator.committed(self.site, events)
