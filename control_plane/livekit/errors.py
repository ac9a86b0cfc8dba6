"""LiveKit errors, translated from livekit-api at the client boundary."""

from __future__ import annotations

from control_plane.errors import Invalid, NotFound, PayloadTooLarge, Unauthenticated, Unavailable


class LiveKitUnavailable(Unavailable):
    code = "livekit_unavailable"
    default_message = "media server unavailable"


class LiveKitNotFound(NotFound):
    code = "livekit_not_found"
    default_message = "room or participant not found"


class WebhookRejected(Unauthenticated):
    """Not a delivery LiveKit signed for this body (the exact reason is audited only)."""

    code = "webhook_rejected"
    default_message = "webhook rejected"


class WebhookNotAccepted(Invalid):
    """Signed, but not acceptable (stale, malformed): 400, which LiveKit does not retry."""

    status = 400
    code = "webhook_rejected"
    default_message = "webhook rejected"


class WebhookTooLarge(PayloadTooLarge):
    code = "payload_too_large"
    default_message = "request body too large"


class WebhookStoreUnavailable(Unavailable):
    """The event could not be stored durably: 503, so LiveKit retries the delivery."""

    code = "webhook_store_unavailable"
    default_message = "webhook could not be stored; retry"
