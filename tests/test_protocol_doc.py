"""docs/protocol.md documents every wire message, every public event type and every stable error
code a socket message can answer with."""

from __future__ import annotations

import re
from pathlib import Path

from commerce import payments, webhooks
from gala.kernel.errors import GalaError
from gala.realtime.protocol import CLIENT_MESSAGES, SERVER_MESSAGES
from gala.runofshow.snapshot import PUBLIC_EVENT_TYPES
from sponsors import model as sponsor_model
from stage_control import model as stage

DOC = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text()


def documented(name: str) -> bool:
    return re.search(rf"`{re.escape(name)}`", DOC) is not None


def test_every_client_and_server_message_is_documented() -> None:
    names = {event for _ns, event in CLIENT_MESSAGES} | {event for _ns, event in SERVER_MESSAGES}
    missing = sorted(name for name in names if not documented(name))
    assert missing == [], f"docs/protocol.md lacks {missing}"


def test_every_public_event_type_is_documented() -> None:
    assert [t for t in PUBLIC_EVENT_TYPES if not documented(t)] == []


def test_every_stage_refusal_code_is_documented() -> None:
    codes = {
        cls.code
        for cls in vars(stage).values()
        if isinstance(cls, type) and hasattr(cls, "code") and cls.__module__ == stage.__name__
    }
    assert codes and sorted(c for c in codes if not documented(c)) == []


def test_every_payment_refusal_code_is_documented() -> None:
    codes = {
        cls.code
        for module in (payments, webhooks)
        for cls in vars(module).values()
        if isinstance(cls, type)
        and issubclass(cls, GalaError)
        and cls.__module__ == module.__name__
    }
    assert {"bad_signature", "stale_webhook", "payment_mismatch"} <= codes
    assert sorted(c for c in codes if not documented(c)) == []


def test_every_sponsor_refusal_code_is_documented() -> None:
    codes = {
        cls.code
        for cls in vars(sponsor_model).values()
        if isinstance(cls, type)
        and issubclass(cls, GalaError)
        and cls.__module__ == sponsor_model.__name__
    }
    assert {"slot_taken", "slot_outside_show", "no_stock", "insufficient_budget"} <= codes
    assert sorted(c for c in codes if not documented(c)) == []
