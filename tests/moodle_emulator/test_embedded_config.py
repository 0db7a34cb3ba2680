"""The embedded default writes the Moodle emulator's sites and the tokens a Moodle sink uses, one per tenant."""

from __future__ import annotations

import json
from pathlib import Path

from standardwebhooks.webhooks import Webhook

from common.tenants import ensure_tenants_file
from stack.config import StackConfig
from stack.embedded import EmbeddedStack
from tests.moodle_emulator.harness import Emulator, running_emulator, student, webhook_receiver


def test_embedded_config_gives_each_tenant_a_site_and_a_working_token(tmp_path: Path) -> None:
    tenants = ensure_tenants_file(tmp_path / "tenants.json", "default")
    stack = EmbeddedStack(StackConfig(root=tmp_path))
    stack._write_emulator_config(tenants)
    config = json.loads((tmp_path / "moodle-emulator.json").read_text())
    (site,) = json.loads((tmp_path / "moodle-sites.json").read_text())["sites"]
    assert site["tenant"] == "default" and site["url"] == "http://127.0.0.1:8091"
    assert (tmp_path / "moodle-sites.json").stat().st_mode & 0o777 == 0o600  # it holds tokens
    secret = tenants.tenants["default"].moodle_webhook_secret
    with webhook_receiver() as receiver:
        config["webhooks"] = {"ingress_url": receiver.url}
        with running_emulator(config, tmp_path) as emu:
            moodle = Emulator(emu.url)
            assert moodle.call("core_webservice_get_site_info", token=site["token"])["username"] == "wsuser"
            moodle.call("core_user_create_users", {"users": [student(1)]}, token=site["token"])
            (delivery,) = receiver.wait_for(1)
    # Signed with the tenant's own secret, so the ingress accepts it for that tenant.
    assert Webhook(secret).verify(delivery.raw, delivery.headers)["data"]["username"] == "student1"
    assert delivery.headers["x-tenant-id"] == "default"
