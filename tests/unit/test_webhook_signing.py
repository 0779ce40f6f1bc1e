"""Webhook signatures: what the platform signs, the SDK's verifier and the Standard Webhooks
reference implementation (an independent third party) accept, and nothing else."""

from __future__ import annotations

import time

import pytest
import standardwebhooks
from tenantmesh.webhooks.v1 import webhook_service_pb2 as pb
from tenantmesh_sdk import WebhookVerificationError, WebhookVerifier

from services.webhooks.deliveries import EVENT_TYPES
from services.webhooks.signing import new_secret, signature_header

BODY = b'{"data":{"tenantId":"t"},"id":"e1","type":"tenant.updated"}'


def _headers(secrets: list[str], message_id: str = "e1", timestamp: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature_header(secrets, message_id, stamp, BODY),
    }


def test_a_signed_delivery_verifies_with_the_sdk_and_the_reference_implementation() -> None:
    secret = new_secret()
    headers = _headers([secret])
    assert WebhookVerifier(secret).verify(BODY, headers)["id"] == "e1"
    assert standardwebhooks.Webhook(secret).verify(BODY, headers)["type"] == "tenant.updated"
    # Header names as a server framework may spell them.
    assert WebhookVerifier(secret).verify(BODY, {k.title(): v for k, v in headers.items()})


def test_during_a_rotation_either_secret_verifies() -> None:
    old, new = new_secret(), new_secret()
    headers = _headers([new, old])
    for secret in (old, new):
        WebhookVerifier(secret).verify(BODY, headers)
        standardwebhooks.Webhook(secret).verify(BODY, headers)
    # A receiver may hold both while it switches.
    WebhookVerifier(old, new).verify(BODY, _headers([new]))


@pytest.mark.parametrize(
    "change",
    ["body", "id", "timestamp", "secret", "too_old", "too_new", "missing_signature", "unknown_version"],
)
def test_anything_else_is_refused(change: str) -> None:
    secret = new_secret()
    body = BODY
    headers = _headers([secret])
    verifier_secret = secret
    if change == "body":
        body = BODY.replace(b'"t"', b'"u"')
    elif change == "id":
        headers["webhook-id"] = "e2"
    elif change == "timestamp":
        headers["webhook-timestamp"] = str(int(headers["webhook-timestamp"]) + 1)
    elif change == "secret":
        verifier_secret = new_secret()
    elif change == "too_old":
        headers = _headers([secret], timestamp=int(time.time()) - 600)
    elif change == "too_new":
        headers = _headers([secret], timestamp=int(time.time()) + 600)
    elif change == "missing_signature":
        del headers["webhook-signature"]
    else:
        headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v2,")
    with pytest.raises(WebhookVerificationError):
        WebhookVerifier(verifier_secret).verify(body, headers)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(verifier_secret).verify(body, headers)


def test_secrets_are_fresh_and_well_formed() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(secret.startswith("whsec_") and len(secret) == 6 + 44 for secret in secrets)
    with pytest.raises(ValueError, match="base64"):
        WebhookVerifier("whsec_not base64!")


def test_the_proto_lists_the_event_types_the_service_delivers() -> None:
    rules = pb.Webhook.DESCRIPTOR.fields_by_name["event_types"].GetOptions()
    text = str(rules)
    assert all(f'"{event_type}"' in text for event_type in EVENT_TYPES)
    assert text.count("in: ") == len(EVENT_TYPES)
