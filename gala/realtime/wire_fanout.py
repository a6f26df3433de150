"""The broadcast fast path: encode a socket.io event once, frame it once, write the same bytes to
every viewer's transport.

python-socketio as shipped builds the packet and the websocket frame again for every viewer and
hops through a queue and a writer task per viewer (100-250 us of CPU per viewer per broadcast,
measured); here a broadcast costs at most one `transport.write` per viewer, and less under load,
when one write carries several frames (see `FanoutRoom`). The bytes are exactly what a
standard socket.io server sends (engine.io MESSAGE "4" + socket.io EVENT "2", an unmasked text
frame), so every standard socket.io client reads them. A frame goes to the kernel in one
`write`, never split, so it cannot interleave with frames the regular path writes.

A viewer whose unsent bytes pass `max_buffer_bytes` (it stopped reading) is cut off with
`abort()`; it reconnects and resumes from the show log, and never slows down or bloats the
others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from gala.supervisor import supervise


class WireTransport(Protocol):
    def write(self, data: bytes) -> None: ...

    def get_write_buffer_size(self) -> int: ...

    def is_closing(self) -> bool: ...

    def abort(self) -> None: ...


def socketio_event_packet(namespace: str, event: str, data: Any) -> bytes:
    """The engine.io + socket.io text packet of one event, as a standard server encodes it."""
    body = json.dumps([event, data], separators=(",", ":"), ensure_ascii=False)
    prefix = "42" if namespace == "/" else f"42{namespace},"
    return (prefix + body).encode()


def websocket_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One final, unmasked (server to client) frame carrying `payload`; text unless told."""
    size = len(payload)
    first = 0x80 | opcode
    if size < 126:
        header = bytes((first, size))
    elif size < 1 << 16:
        header = bytes((first, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((first, 127)) + size.to_bytes(8, "big")
    return header + payload


def write_or_cut_off(transport: WireTransport, data: bytes, max_buffer_bytes: int) -> bool:
    """Write `data` to an open transport in one `write`, unless it already holds more than
    `max_buffer_bytes` unsent: then its reader stopped reading, and it is aborted instead. The
    one bound of both paths, the fan-out and a session's own packets. False when cut off."""
    if transport.get_write_buffer_size() > max_buffer_bytes:
        transport.abort()
        return False
    transport.write(data)
    return True


class _Subscriber:
    __slots__ = ("key", "transport", "sent")

    def __init__(self, key: str, transport: WireTransport, sent: int) -> None:
        self.key = key
        self.transport = transport
        self.sent = sent  # index of the first frame this subscriber has not been written


class FanoutRoom:
    """The subscribers of one room and the frames published to it, written by one task.

    `publish` only appends and wakes the writer, so it never blocks the caller. The writer goes
    round the subscribers in rotations of `chunk` writes, yielding to the event loop between
    chunks (a GO, an ack or a ping waits at most one chunk, not a whole sweep). At each visit a
    subscriber gets, in one write, every frame it has not had yet, so a frame published
    mid-rotation reaches everyone within one rotation: the rotation time, not two sweeps, bounds
    the latency, and under load each write carries more frames instead of the queue growing.
    Frames every subscriber has had are dropped after each rotation.
    """

    def __init__(
        self,
        max_buffer_bytes: int,
        chunk: int = 32,
        on_round: Callable[[float], None] = lambda _seconds: None,
        on_cut_off: Callable[[], None] = lambda: None,
    ) -> None:
        self._max_buffer_bytes = max_buffer_bytes
        self._on_round = on_round  # seconds one rotation took (gala_fanout_round_seconds)
        self._on_cut_off = on_cut_off
        self._chunk = chunk
        self._subscribers: dict[str, _Subscriber] = {}
        self._frames: list[bytes] = []
        self._base = 0  # the index of self._frames[0]
        self._wake = asyncio.Event()
        self._rotated = asyncio.Event()  # set after each rotation (what `flushed` waits for)
        self._writer: asyncio.Task[None] | None = None
        self.cut_off = 0

    @property
    def _head(self) -> int:
        return self._base + len(self._frames)

    def add(self, key: str, transport: WireTransport) -> None:
        """Subscribe `transport`: it gets the frames published from now on (subscribing again
        changes nothing)."""
        if key not in self._subscribers:
            self._subscribers[key] = _Subscriber(key, transport, self._head)

    def remove(self, key: str) -> None:
        self._subscribers.pop(key, None)

    def _drop(self, subscriber: _Subscriber) -> None:
        if self._subscribers.get(subscriber.key) is subscriber:
            del self._subscribers[subscriber.key]

    def __len__(self) -> int:
        return len(self._subscribers)

    def publish(self, frames: bytes) -> None:
        """Queue whole websocket frames for every subscriber; they are written in this order."""
        self._frames.append(frames)
        self._wake.set()
        if self._writer is None:
            self._writer = asyncio.create_task(
                supervise("fan-out writer", self._write_forever), name="fan-out writer"
            )

    async def flushed(self) -> None:
        """Return once every subscriber has been written every frame published so far."""
        target = self._head
        while any(s.sent < target for s in self._subscribers.values()):
            self._rotated.clear()
            await self._rotated.wait()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:
                start_head = self._head
                started = time.perf_counter()
                await self._rotate()
                self._on_round(time.perf_counter() - started)
                self._rotated.set()
                del self._frames[: start_head - self._base]
                self._base = start_head
                if self._head == start_head:
                    break

    async def _rotate(self) -> None:
        """Visit every subscriber once; each leaves with every frame published by its visit."""
        subscribers = list(self._subscribers.values())  # one object: no garbage for the GC
        for first in range(0, len(subscribers), self._chunk):
            pending: dict[int, bytes] = {}
            head = self._head
            for subscriber in subscribers[first : first + self._chunk]:
                if subscriber.sent >= head:
                    continue
                transport = subscriber.transport
                if transport.is_closing():
                    self._drop(subscriber)
                    continue
                data = pending.get(subscriber.sent)
                if data is None:
                    data = pending[subscriber.sent] = b"".join(
                        self._frames[subscriber.sent - self._base :]
                    )
                if write_or_cut_off(transport, data, self._max_buffer_bytes):
                    subscriber.sent = head
                else:
                    self._drop(subscriber)
                    self.cut_off += 1
                    self._on_cut_off()
            await asyncio.sleep(0)


def transport_of(request_transport: asyncio.BaseTransport | None) -> WireTransport | None:
    """The writable transport of an accepted websocket, if it is still open."""
    if request_transport is None or request_transport.is_closing():
        return None
    return request_transport  # type: ignore[return-value]
