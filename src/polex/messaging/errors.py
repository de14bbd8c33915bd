"""What can go wrong with a message, each error naming the field and the rule it broke.

The API maps these to HTTP answers; the CLI prints them. They carry no row data, so an error
never reveals a message the caller may not read."""

from __future__ import annotations


class MessagingError(Exception):
    """Base: ``field`` and ``rule`` say what was wrong, the text says it for people."""

    status = 400

    def __init__(self, field: str, rule: str, message: str) -> None:
        self.field = field
        self.rule = rule
        self.message = message
        super().__init__(message)


class Invalid(MessagingError):
    status = 422


class NotFound(MessagingError):
    """The same answer whether the message does not exist or the caller may not read it."""

    status = 404


class Denied(MessagingError):
    status = 403


class Conflict(MessagingError):
    status = 409


class TooLarge(MessagingError):
    status = 413


class IntegrityFailure(MessagingError):
    """A stored message or attachment no longer matches what its node signed.

    409: the request was fine, the stored resource is not; nothing the caller changes helps,
    and the operator finds the details in the audit trail."""

    status = 409

    def __init__(self, message_id: str, reason: str) -> None:
        self.message_id = message_id
        self.reason = reason
        super().__init__(
            "message",
            "message.integrity",
            f"message {message_id} failed its integrity check: {reason}",
        )
