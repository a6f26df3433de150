"""engine.io sessions for websocket-only clients, lean enough for tens of thousands per process.

python-engineio as shipped runs, for every websocket client, a writer task fed by a queue, a new
task and a `wait_for` timer for every message read, a task sleeping until the next ping, and a
service task that visits every client with a timer of its own: six tasks and about 150
GC-tracked objects per idle viewer (measured at 500 viewers), and a full garbage collection that
stops the process for over a second at 10,000 viewers. Here each session is one task, the aiohttp
request's own, reading its websocket:

- a packet is framed and written straight to the asyncio transport in one `write` (no queue, no
  writer task), so frames never interleave and leave in the order they were sent; a client
  holding more than `max_buffer_bytes` unsent is cut off, as on the broadcast fast path;
- one `PingWheel` task per server pings every client once per ping interval (clients are spread
  over one-second buckets) and closes those that did not answer the previous ping, so a silent
  client is closed at most two ping intervals after its last pong;
- the wire is engine.io v4 exactly as python-engineio speaks it (the same OPEN packet, pings from
  the server, CLOSE on a server-side disconnect), so standard socket.io clients connect unchanged.

Only the websocket transport is served; a long-polling request is refused with 400. What this
needs of python-engineio's internals (the session factory, the session registry, the handlers
python-socketio registers) goes through `compat`, as does the release of what aiohttp and asyncio
would otherwise leave for the garbage collector.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web
from engineio import packet

from gala.realtime import compat
from gala.realtime.wire_fanout import websocket_frame, write_or_cut_off

log = logging.getLogger(__name__)

WS_CLOSE_NORMAL = websocket_frame((1000).to_bytes(2, "big"), opcode=0x8)
_MESSAGE, _PONG, _CLOSE = (str(kind) for kind in (packet.MESSAGE, packet.PONG, packet.CLOSE))
_MESSAGE_BYTES = _MESSAGE.encode()


class LeanSocket(compat.EngineSocket):
    """One client's engine.io session over an accepted websocket."""

    def __init__(self, server: LeanEngineServer, sid: str) -> None:
        super().__init__(server, sid)
        self.server: LeanEngineServer = server
        self.last_ping: float | None = None  # when an unanswered ping went out
        self.transport: asyncio.WriteTransport | None = None
        self._early: list[bytes] | None = []  # frames sent before the websocket was accepted

    def write(self, pkt: packet.Packet) -> None:
        """Frame `pkt` and hand it to the transport now (or as soon as the websocket is up)."""
        if self.closed:
            return
        encoded = pkt.encode()
        frame = (
            websocket_frame(encoded, opcode=0x2)
            if isinstance(encoded, bytes)
            else websocket_frame(encoded.encode())
        )
        if self._early is not None:
            self._early.append(frame)
            return
        self._write_frame(frame)

    def write_message(self, encoded: bytes) -> None:
        """An engine.io MESSAGE of `encoded`, framed and written as `write` does, with no
        packet object (an ack costs one frame, one `write`)."""
        if self.closed:
            return
        frame = websocket_frame(_MESSAGE_BYTES + encoded)
        if self._early is not None:
            self._early.append(frame)
            return
        self._write_frame(frame)

    def _write_frame(self, frame: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if not write_or_cut_off(transport, frame, self.server.max_buffer_bytes):
            self.server.on_cut_off()

    async def send(self, pkt: packet.Packet) -> None:
        self.write(pkt)

    async def serve(self, ws: web.WebSocketResponse, transport: asyncio.WriteTransport) -> None:
        """Run the session over the accepted `ws` until it ends: read and dispatch packets."""
        self.open()
        self.transport = transport
        early, self._early = self._early or [], None
        for frame in early:
            self._write_frame(frame)
        self.server.pings.add(self)
        try:
            while not self.closed:
                message = await ws.receive()
                if message.type is WSMsgType.TEXT:
                    await self._receive(message.data)
                elif message.type is WSMsgType.BINARY:
                    if message.data:  # engine.io v4 sends a binary MESSAGE as a bare frame
                        await self.server.deliver("message", self.sid, message.data)
                else:
                    break  # closed, closing or a protocol error: the session ends
        finally:
            self.server.pings.discard(self)
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)

    async def _receive(self, text: str) -> None:
        """One engine.io text packet: a digit for its type, then its data, passed on as text
        (socket.io decodes it). Empty messages, a v3 client's pings, upgrade probes and noise
        carry nothing for a websocket-only session and are dropped."""
        kind, data = text[:1], text[1:]
        if kind == _MESSAGE:
            if data:
                await self.server.deliver("message", self.sid, data)
        elif kind == _PONG:
            self.last_ping = None  # the ping is answered
        elif kind == _CLOSE:
            await self.close(wait=False, abort=True, reason=self.server.reason.CLIENT_DISCONNECT)

    async def close(
        self, wait: bool = True, abort: bool = False, reason: str | None = None
    ) -> None:
        if self.closed or self.closing:
            return
        self.closing = True
        await self.server.deliver(
            "disconnect", self.sid, reason or self.server.reason.SERVER_DISCONNECT
        )
        if not abort:
            self.write(packet.Packet(packet.CLOSE))
        self.closed = True
        transport = self.transport
        if not abort and transport is not None and not transport.is_closing():
            transport.write(WS_CLOSE_NORMAL)
            transport.close()  # after what is buffered has been sent


class PingWheel:
    """Pings every client once per interval from one task: clients sit in one-second buckets by
    the second they joined, and each second one bucket is visited."""

    PING = packet.Packet(packet.PING)

    def __init__(self, server: LeanEngineServer, interval_s: int) -> None:
        self._server = server
        self._buckets: list[set[LeanSocket]] = [set() for _ in range(max(1, interval_s))]
        self._tick = 0
        self._ended: list[asyncio.BaseTransport] = []
        self._task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def add(self, socket: LeanSocket) -> None:
        self._buckets[self._tick % len(self._buckets)].add(socket)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="engine.io ping wheel")

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self._buckets)

    def discard(self, socket: LeanSocket) -> None:
        for bucket in self._buckets:
            bucket.discard(socket)

    async def stop(self) -> None:
        for task in [self._task, *self._closing]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += 1.0  # on the clock, so a busy loop does not stretch the interval
            await asyncio.sleep(max(0.0, due - loop.time()))
            self._tick += 1
            self.visit(self._buckets[self._tick % len(self._buckets)])
            self._release_ended()

    def ended(self, transport: asyncio.BaseTransport | None) -> None:
        """A session over `transport` ended; its connection is being closed."""
        if transport is not None:
            self._ended.append(transport)

    def _release_ended(self) -> None:
        """Free the transports of ended sessions whose connection is now lost."""
        self._ended = [t for t in self._ended if not compat.release_transport(t)]

    def visit(self, bucket: set[LeanSocket]) -> None:
        now = time.time()
        for socket in list(bucket):
            if socket.closed or socket.closing:
                bucket.discard(socket)
            elif socket.last_ping is not None:
                bucket.discard(socket)
                task = asyncio.create_task(
                    socket.close(wait=False, reason=self._server.reason.PING_TIMEOUT)
                )
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
            else:
                socket.last_ping = now
                socket.write(self.PING)


class LeanEngineServer(compat.EngineServer):
    """python-engineio's server with `LeanSocket` sessions and the shared `PingWheel` in place
    of its per-client service visits. python-socketio builds it with the engine.io options it
    was given; the ping interval, the ping timeout and the message size limit must be among
    them."""

    def __init__(
        self,
        *,
        max_buffer_bytes: int,
        on_cut_off: Callable[[], None] = lambda: None,
        ping_interval: int,
        ping_timeout: int,
        max_http_buffer_size: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            max_http_buffer_size=max_http_buffer_size,
            monitor_clients=False,  # the ping wheel does it
            **kwargs,
        )
        self.max_buffer_bytes = max_buffer_bytes
        self.on_cut_off = on_cut_off  # counted, not logged: a mass of slow readers is no log storm
        self.max_message_bytes = max_http_buffer_size
        self.pings = PingWheel(self, ping_interval)
        self._open_fields = {
            "upgrades": [],
            "pingTimeout": ping_timeout * 1000,
            "pingInterval": ping_interval * 1000,
            "maxPayload": max_http_buffer_size,
        }

    async def open_session(self, environ: dict[str, Any], transport: str) -> web.StreamResponse:
        if transport != "websocket" or environ.get("HTTP_UPGRADE", "").lower() != "websocket":
            return _bad_request("websocket transport only")
        request = compat.request_of(environ)
        if request is None:
            return _bad_request("not an aiohttp request")
        sid = self.generate_id()
        socket = LeanSocket(self, sid)
        self.add_session(sid, socket)
        socket.write(packet.Packet(packet.OPEN, {"sid": sid, **self._open_fields}))
        # python-socketio keeps the environ it is given for the whole session and hands it to
        # every connect handler: the full one, but built on access (see `RequestEnviron`)
        accepted = await self.deliver("connect", sid, compat.RequestEnviron(request))
        if accepted is not None and accepted is not True:
            self.drop_session(sid)
            return web.Response(
                status=401, text=json.dumps("Unauthorized"), content_type="application/json"
            )
        ws = web.WebSocketResponse(max_msg_size=self.max_message_bytes, compress=False)
        await ws.prepare(request)
        # engine.io's `handle_request` holds its environ, a copy of every header, until the
        # session ends, and reads nothing of it again
        environ.clear()
        connection = request.transport
        assert connection is not None, "prepared, so connected"
        try:
            await socket.serve(ws, connection)
        finally:
            compat.drop_tracebacks(ws.exception())
            self.pings.ended(connection)
        if socket.closed:
            self.drop_session(sid)
        return ws


def _bad_request(message: str) -> web.Response:
    """engine.io's own refusal: 400 with the reason as a JSON string."""
    return web.Response(status=400, text=json.dumps(message), content_type="text/plain")
