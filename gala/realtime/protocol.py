"""The wire protocol in one place: every socket message type, the refusals of a malformed
payload, and the resume position a viewer joins with.

`CLIENT_MESSAGES` are what clients send (with the namespace and the role that may send them);
`SERVER_MESSAGES` are what the server pushes. docs/protocol.md documents each one, and a test fails
when one is missing there. Each payload is parsed once, at the edge, into a typed command
(`commands.py`); a malformed one is refused with `bad_payload` or `bad_field` (or the message's
own code), so bad input never reaches a service.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Strict, StringConstraints
from pydantic.dataclasses import dataclass

from gala.kernel.errors import BadRequest
from gala.runofshow.fields import JSON_SAFE_INT, bounded_int

# (namespace, event) -> roles that may send it
CLIENT_MESSAGES: dict[tuple[str, str], tuple[str, ...]] = {
    ("/", "join"): ("viewer", "producer"),
    ("/", "leave"): ("viewer", "producer"),
    ("/", "time"): ("viewer", "producer"),
    ("/", "buy"): ("viewer",),
    ("/", "wallet"): ("viewer",),
    ("/", "grab"): ("viewer",),
    ("/", "displayed"): ("viewer",),
    ("/producer", "console:join"): ("producer",),
    ("/producer", "go"): ("producer",),
    ("/producer", "standby"): ("producer",),
    ("/producer", "back"): ("producer",),
    ("/producer", "panic"): ("producer",),
    ("/producer", "end"): ("producer",),
    ("/producer", "reset"): ("producer",),
    ("/producer", "audit"): ("producer",),
    ("/producer", "time"): ("producer",),
    ("/producer", "drop:launch"): ("producer",),
    ("/producer", "auto"): ("producer",),
    ("/producer", "cue:edit"): ("producer",),
    ("/producer", "bookings:list"): ("producer",),
    ("/producer", "booking:approve"): ("producer",),
    ("/producer", "booking:reject"): ("producer",),
}

# (namespace, event) pushed by the server
SERVER_MESSAGES: tuple[tuple[str, str], ...] = (
    ("/", "drain"),
    ("/producer", "drain"),
    ("/", "event"),
    ("/", "figures"),
    ("/producer", "console:figures"),
    ("/producer", "console:state"),
    ("/producer", "console:presence"),
)


class BadPayload(BadRequest):
    code = "bad_payload"


class BadField(BadRequest):
    code = "bad_field"


@dataclass(frozen=True, slots=True)
class ResumePosition:
    """Where a reconnecting viewer's log stopped: the epoch and the last seq it folded."""

    epoch: Annotated[str, Strict(), StringConstraints(min_length=1, max_length=32)]
    seq: Annotated[int, bounded_int(0, JSON_SAFE_INT - 1)]
