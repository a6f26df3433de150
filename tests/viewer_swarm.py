"""A swarm of resuming viewers on bare sockets, for restart and drain tests.

Each viewer connects (websocket, engine.io, socket.io), joins a show, applies events by the
protocol's client rules (docs/protocol.md, "Ordering, duplicates, gaps"), answers pings, and
after ANY disconnect comes back by itself the way the pages do (web/static/link.js): a random
delay under a cap that doubles per failed attempt, or inside the window a draining node
announced with `drain`, then a join with its resume position. Bare sockets and one small task per
viewer keep a thousand of them cheap enough to run beside the server on this machine.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
from dataclasses import dataclass, field
from typing import Any

MAX_DELAY_S = 2.0
FIRST_CAP_S = 0.5


@dataclass(eq=False)
class SwarmViewer:
    token: str
    epoch: str | None = None
    seq: int = 0
    applied: list[int] = field(default_factory=list)
    duplicates: int = 0
    gaps: int = 0
    late_snapshots: int = 0
    connects: int = 0
    drains_heard: int = 0
    address: int = 0  # which of the swarm's addresses it tries
    joined: asyncio.Event = field(default_factory=asyncio.Event)

    def apply(self, event: dict[str, Any]) -> bool:
        """Apply one event; False when it shows a gap (the viewer must join again)."""
        if event["epoch"] != self.epoch:
            if event["seq"] != 1:
                self.gaps += 1
                return False
            self.epoch, self.seq = event["epoch"], 0
        if event["seq"] <= self.seq:
            self.duplicates += 1
            return True
        if event["seq"] != self.seq + 1:
            self.gaps += 1
            return False
        self.seq = event["seq"]
        self.applied.append(self.seq)
        return True


class ViewerSwarm:
    def __init__(self, base_url: str, show_id: str, tokens: list[str]) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.show_id = show_id
        # where a viewer goes when its node refuses connections: the next address, in turn
        self.fallbacks: list[tuple[str, int]] = []
        self.viewers = [SwarmViewer(token) for token in tokens]
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self, batch: int = 50) -> None:
        """Start every viewer, `batch` at a time, and wait until each has joined once."""
        for first in range(0, len(self.viewers), batch):
            group = self.viewers[first : first + batch]
            self._tasks.extend(asyncio.create_task(self._run(v)) for v in group)
            await asyncio.wait_for(asyncio.gather(*(v.joined.wait() for v in group)), 30)

    async def wait_for_seq(self, seq: int, timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while any(v.seq < seq for v in self.viewers):
            if asyncio.get_running_loop().time() > deadline:
                behind = sum(v.seq < seq for v in self.viewers)
                raise TimeoutError(f"{behind} viewers never reached seq {seq}")
            await asyncio.sleep(0.05)

    def behind(self, seq: int) -> int:
        return sum(v.seq < seq for v in self.viewers)

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self, viewer: SwarmViewer) -> None:
        failures = 0
        while not self._stopping:
            window_s = await self._session(viewer)
            if window_s is None:
                failures += 1
                cap = min(MAX_DELAY_S, FIRST_CAP_S * 2**failures)
                delay = random.uniform(0.05, cap)
            else:
                failures = 0
                delay = random.uniform(0.05, max(0.05, window_s))
            await asyncio.sleep(delay)

    async def _session(self, viewer: SwarmViewer) -> float | None:
        """One connection until it ends: the drain window it was told (s), or None if none."""
        window_s: float | None = None
        addresses = [(self.host, self.port), *self.fallbacks]
        host, port = addresses[viewer.address % len(addresses)]
        try:
            reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
        except OSError:
            viewer.address += 1
            return None
        try:
            key = base64.b64encode(os.urandom(16)).decode()
            writer.write(
                (
                    f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}\r\n"
                    f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                return None
            if not (await _read_text(reader)).startswith("0"):
                return None
            _send(writer, "40" + json.dumps({"token": viewer.token}))
            if not (await _read_text(reader)).startswith("40"):
                return None
            viewer.connects += 1
            join_id = 0

            def send_join() -> None:
                nonlocal join_id
                join_id += 1
                resume = (
                    None if viewer.epoch is None else {"epoch": viewer.epoch, "seq": viewer.seq}
                )
                _send(
                    writer,
                    f"42{join_id}"
                    + json.dumps(["join", {"show_id": self.show_id, "resume": resume}]),
                )

            send_join()
            waiting: list[dict[str, Any]] | None = []  # events that came before the join's ack
            while True:
                text = await _read_text(reader)
                if text == "2":
                    _send(writer, "3")
                elif text.startswith('42["event",'):
                    event = json.loads(text[2:])[1]
                    if waiting is not None:
                        waiting.append(event)
                    elif not viewer.apply(event):
                        waiting = []
                        send_join()
                elif text.startswith('42["drain",'):
                    viewer.drains_heard += 1
                    window_s = json.loads(text[2:])[1]["within_ms"] / 1000
                elif text.startswith(f"43{join_id}["):
                    ack = json.loads(text[len(f"43{join_id}") :])[0]
                    if not ack.get("ok"):
                        return window_s
                    self._joined(viewer, ack["data"])
                    pending, waiting = waiting or [], None
                    for event in pending:
                        if not viewer.apply(event):
                            waiting = []
                            send_join()
                            break
                    viewer.joined.set()
                elif text in ("1", "41", "CLOSE"):
                    return window_s
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            return window_s
        finally:
            writer.close()

    def _joined(self, viewer: SwarmViewer, data: dict[str, Any]) -> None:
        if data["mode"] == "replay":
            for event in data["events"]:
                viewer.apply(event)
            return
        snapshot = data["snapshot"]
        if viewer.epoch is not None and (data["epoch"], snapshot["seq"]) != (
            viewer.epoch,
            viewer.seq,
        ):
            viewer.late_snapshots += 1
        viewer.epoch, viewer.seq = data["epoch"], snapshot["seq"]


def _send(writer: asyncio.StreamWriter, text: str) -> None:
    payload, mask = text.encode(), os.urandom(4)
    n = len(payload)
    head = (
        bytes((0x81, 0x80 | n))
        if n < 126
        else bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big")
        if n < 1 << 16
        else bytes((0x81, 0x80 | 127)) + n.to_bytes(8, "big")
    )
    writer.write(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


async def _read_text(reader: asyncio.StreamReader) -> str:
    """The next text frame, "CLOSE" for a close frame; pings and pongs of the websocket skipped."""
    while True:
        head = await reader.readexactly(2)
        size = head[1] & 0x7F
        if size == 126:
            size = int.from_bytes(await reader.readexactly(2), "big")
        elif size == 127:
            size = int.from_bytes(await reader.readexactly(8), "big")
        payload = await reader.readexactly(size)
        opcode = head[0] & 0x0F
        if opcode == 0x8:
            return "CLOSE"
        if opcode == 0x1:
            return payload.decode()
