"""What `make run` prints once the stack is up: where things are and how to send a first webhook."""

from __future__ import annotations

import shlex
import time
import uuid
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from common.settings import Settings
from common.tenants import load_tenants
from stack.config import StackConfig, service_port


def banner(settings: Settings) -> str:
    cfg = StackConfig.from_env(settings.stack_dir)
    base = f"http://127.0.0.1:{service_port('ingress')}"
    control = f"http://127.0.0.1:{service_port('control plane')}"
    emulator = f"http://127.0.0.1:{service_port('zoho emulator')}"
    tenant = settings.default_tenant
    moodle_port = service_port('moodle emulator')
    secrets = load_tenants(settings).tenants[tenant]
    body = (
        '{"event_id":"demo-' + uuid.uuid4().hex[:8] + '","event_type":"user_created","timestamp":'
        + str(int(time.time()))
        + ',"data":{"moodle_user_id":412,"username":"lina.haddad","email":"lina.haddad@abchorizon.com",'
        '"firstname":"Lina","lastname":"Haddad","idnumber":"STU-0001"}}'
    )
    msg_id = f"demo-{uuid.uuid4()}"
    now = datetime.now(tz=UTC)
    signature = Webhook(secrets.moodle_webhook_secret).sign(msg_id, now, body)
    curl = " \\\n    ".join(
        [
            f"curl -i -X POST {base}/webhooks/moodle/user_created",
            f"-H 'Content-Type: application/json' -H 'X-Tenant-ID: {tenant}'",
            f"-H 'webhook-id: {msg_id}' -H 'webhook-timestamp: {int(now.timestamp())}'",
            f"-H 'webhook-signature: {signature}'",
            f"--data-binary {shlex.quote(body)}",
        ]
    )
    return "\n".join(
        [
            "",
            "Moodle ↔ Zoho sync — embedded stack",
            f"  ingress       {base}   (OpenAPI: {base}/docs, metrics: {base}/metrics)",
            f"  control plane {control}/control/v1   (OpenAPI: {control}/docs, metrics: {control}/metrics)",
            f"  streams       metrics http://127.0.0.1:{service_port('streams')}/metrics",
            f"  projector     metrics http://127.0.0.1:{service_port('projector')}/metrics",
            f"  zoho sink     metrics http://127.0.0.1:{service_port('zoho sink')}/metrics",
            f"  zoho puller   metrics http://127.0.0.1:{service_port('zoho puller')}/metrics",
            f"  zoho emulator {emulator}",
            f"  moodle        http://127.0.0.1:{moodle_port}/webservice/rest/server.php   (emulator; tokens in "
            f"{cfg.root / 'moodle-sites.json'})",
            f"  kafka         {cfg.kafka_bootstrap}",
            f"  postgres      {cfg.database_url}",
            f"  secrets       {settings.resolved_tenants_file()}",
            f"  logs          {cfg.logs_dir}/  {cfg.pg_dir / 'postgres.log'}",
            "",
            "Send a signed Moodle webhook (signature valid for 5 minutes):",
            f"  {curl}",
            "",
            "See it in the log:",
            f"  kcat -C -b {cfg.kafka_bootstrap} -t raw.moodle -o -1 -e -f '%k  %h\\n%s\\n'",
            "Query the projections (views: student_unit_band, grade_sync_pending, class_roster, ...; docs/sql.md):",
            f"  psql '{cfg.database_url}?options=-csearch_path%3Dprojections'",
            "Zoho CRM emulator (what the sink wrote):",
            f"  curl -s {emulator}/__emulator/records/BTEC_Grades",
            "Moodle emulator (what a Moodle sink created):",
            f"  curl -s http://127.0.0.1:{moodle_port}/__emulator/users?tenant={tenant}",
            "",
        ]
    )
