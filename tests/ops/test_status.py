"""`mzsync status` shows dead letters per tenant and reason, every consumer group's lag and the
records waiting in each streams worker."""

from __future__ import annotations

import json
import uuid

import httpx
from confluent_kafka import Consumer, TopicPartition

from ops.college import webhooks as college
from tests.conftest import TenantCreds
from tests.infra import Infra, Service, end_offsets, wait_until
from tests.ops.conftest import CLI, Streams
from tests.streams.conftest import new_id


def _commit_at_zero(bootstrap: str, group: str, topic: str) -> None:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        c.commit(offsets=[TopicPartition(topic, p, 0) for p in parts], asynchronous=False)
    finally:
        c.close()


def test_status_shows_dead_letters_lag_and_waiting_records(
        infra: Infra, ingress: Service, streams: Streams, fresh_tenant: TenantCreds, cli: CLI) -> None:
    # A grade whose student never comes waits in the worker; a student without an email is a dead letter.
    sid, gid, cid = new_id(), new_id(), new_id()
    for module, data in (("BTEC_Students", college.student(sid, "") | {"Academic_Email": None}),
                         ("BTEC_Grades", college.zoho_grade(gid, new_id(), cid))):
        resp = httpx.post(f"{ingress.url}/webhooks/zoho/{module}",
                          content=json.dumps(college.notification(module, data, new_id())).encode(),
                          headers={"Content-Type": "application/json", "X-Tenant-ID": fresh_tenant.name,
                                   "X-Zoho-Webhook-Token": fresh_tenant.zoho_token})
        assert resp.status_code == 202, resp.text

    def tenant_status() -> dict | None:
        status = cli.json("status", "--tenant", fresh_tenant.name, "--streams-metrics", streams.metrics_url)
        waiting = status["waiting"][0]
        return status if status["dead_letters"] and waiting["total"] >= 1 else None

    assert wait_until(tenant_status, timeout=60), "the dead letter or the waiting grade never showed"
    probe = f"ops-lag-probe-{uuid.uuid4().hex[:6]}"
    _commit_at_zero(infra.bootstrap, probe, "raw.zoho")
    behind = sum(end_offsets(infra.bootstrap, "raw.zoho").values())

    status = cli.json("status", "--tenant", fresh_tenant.name, "--streams-metrics", streams.metrics_url,
                      "--streams-metrics", "http://127.0.0.1:9/metrics")
    assert status["dead_letters"] == {fresh_tenant.name: {"invalid_record": 1}}
    groups = {g["group"]: g for g in status["consumer_groups"]}
    assert groups[probe]["topics"] == {"raw.zoho": behind} and groups[probe]["total"] == behind
    assert "raw.zoho" in groups[streams.run.app_id]["topics"]
    live, dead = status["waiting"]
    assert live["error"] is None and live["by_stage"].get("person", 0) >= 1
    assert dead["url"] == "http://127.0.0.1:9/metrics" and "unreachable" in dead["error"]

    table = cli("status", "--tenant", fresh_tenant.name, "--streams-metrics", streams.metrics_url).stdout
    assert probe in table and f"{behind:,}" in table
    assert fresh_tenant.name in table and "invalid_record" in table
