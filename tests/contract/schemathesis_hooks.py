"""Loaded by the schemathesis CLI (`SCHEMATHESIS_HOOKS`): signs generated Moodle webhooks as the plugin does.

The Standard Webhooks signature covers the exact bytes sent, so it is computed on the prepared request,
after schemathesis has serialised the body. A request that lacks one of the three signature headers
(schemathesis drops required headers on purpose) is left as generated: it must be refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from typing import Any

import schemathesis
from requests import PreparedRequest
from requests.auth import AuthBase

_SIGNED = ("webhook-id", "webhook-timestamp", "webhook-signature")


class StandardWebhooksSignature(AuthBase):
    def __init__(self, secret: str) -> None:
        self.key = base64.b64decode(secret.removeprefix("whsec_"))

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        if not all(name in request.headers for name in _SIGNED):
            return request
        # Generated bodies are serialised whole (str or bytes), never streamed.
        body = request.body.encode() if isinstance(request.body, str) else request.body or b""
        assert isinstance(body, bytes)
        timestamp = str(int(time.time()))
        msg_id = str(request.headers["webhook-id"])
        signed = f"{msg_id}.{timestamp}.".encode() + body
        digest = base64.b64encode(hmac.new(self.key, signed, hashlib.sha256).digest()).decode()
        request.headers["webhook-timestamp"] = timestamp
        request.headers["webhook-signature"] = f"v1,{digest}"
        return request


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if case.operation.path.startswith("/webhooks/moodle/"):
        kwargs["auth"] = StandardWebhooksSignature(os.environ["CONTRACT_MOODLE_SECRET"])
