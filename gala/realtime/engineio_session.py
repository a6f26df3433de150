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

Only the websocket transport is served; a long-polling request is refused with 400.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import engineio
from aiohttp import WSMsgType, web
from engineio import exceptions, packet
from engineio.async_socket import AsyncSocket

from gala.realtime.wire_fanout import websocket_frame, write_or_cut_off

log = logging.getLogger(__name__)

WS_CLOSE_NORMAL = websocket_frame((1000).to_bytes(2, "big"), opcode=0x8)


class LeanSocket(AsyncSocket):  # type: ignore[misc]
    """One client's engine.io session over an accepted websocket."""

    def __init__(self, server: LeanEngineServer, sid: str) -> None:
        # deliberately not AsyncSocket.__init__: no queue, nothing waits on one
        self.server = server
        self.sid = sid
        self.last_ping: float | None = None  # when an unanswered ping went out
        self.connected = False
        self.upgrading = False
        self.upgraded = False
        self.closing = False
        self.closed = False
        self.session: dict[str, Any] = {}
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

    def _write_frame(self, frame: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if not write_or_cut_off(transport, frame, self.server.max_buffer_bytes):
            log.info("%s: cut off, it stopped reading", self.sid)

    async def send(self, pkt: packet.Packet) -> None:
        self.write(pkt)

    def schedule_ping(self) -> None:
        """Called on every PONG: the ping is answered."""
        self.last_ping = None

    async def serve(self, ws: web.WebSocketResponse, transport: asyncio.WriteTransport) -> None:
        """Run the session over the accepted `ws` until it ends: read and dispatch packets."""
        self.connected = self.upgraded = True
        self.transport = transport
        early, self._early = self._early or [], None
        for frame in early:
            self._write_frame(frame)
        self.server.pings.add(self)
        try:
            while not self.closed:
                message = await ws.receive()
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break  # closed, closing or a protocol error: the session ends
                try:
                    await self.receive(packet.Packet(encoded_packet=message.data))
                except exceptions.UnknownPacketError:
                    pass
                except exceptions.SocketIsClosedError:
                    break
                except Exception:  # noqa: BLE001 - one bad packet must not end the session
                    log.exception("%s: receive error", self.sid)
        finally:
            self.server.pings.discard(self)
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)

    async def close(
        self, wait: bool = True, abort: bool = False, reason: str | None = None
    ) -> None:
        if self.closed or self.closing:
            return
        self.closing = True
        await self.server._trigger_event(
            "disconnect", self.sid, reason or self.server.reason.SERVER_DISCONNECT, run_async=False
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
        """CPython 3.11's socket transport keeps a bound method of itself (`_read_ready_cb`)
        after its connection is lost: a 6-object cycle per connection left for a full
        collection, which the heap policy (`gala.heap`) would keep frozen. Once the connection
        is lost, that reference is dropped and the transport is freed at once."""
        waiting = []
        for transport in self._ended:
            if getattr(transport, "_sock", None) is not None:
                waiting.append(transport)
            elif hasattr(transport, "_read_ready_cb"):
                transport._read_ready_cb = None
        self._ended = waiting

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


def _drop_tracebacks(error: BaseException | None) -> None:
    """aiohttp keeps the error that ended a websocket (a reset peer, mostly, raised while it
    handled the end of the stream) on the response, and the tracebacks of that error and of its
    context hold frames that point back at the response: a cycle of about 40 objects per
    connection that only a full garbage collection could free, and full collections stop the
    process for over half a second at 10,000 viewers. Without the tracebacks, reference counting
    frees the connection as soon as it ends."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        error.__traceback__ = None
        error = error.__context__ or error.__cause__


class LeanEngineServer(engineio.AsyncServer):  # type: ignore[misc]
    """python-engineio's server with `LeanSocket` sessions and the shared `PingWheel` in place
    of its per-client service visits."""

    def __init__(self, *, max_buffer_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_buffer_bytes = max_buffer_bytes
        self.start_service_task = False
        self.pings = PingWheel(self, int(self.ping_interval))

    async def _handle_connect(
        self, environ: dict[str, Any], transport: str, jsonp_index: int | None = None
    ) -> Any:
        if transport != "websocket" or environ.get("HTTP_UPGRADE", "").lower() != "websocket":
            return self._bad_request("websocket transport only")
        request: web.Request = environ["aiohttp.request"]
        sid = self.generate_id()
        socket = LeanSocket(self, sid)
        self.sockets[sid] = socket
        socket.write(
            packet.Packet(
                packet.OPEN,
                {
                    "sid": sid,
                    "upgrades": [],
                    "pingTimeout": int(self.ping_timeout * 1000),
                    "pingInterval": int(self.ping_interval + self.ping_interval_grace_period)
                    * 1000,
                    "maxPayload": self.max_http_buffer_size,
                },
            )
        )
        accepted = await self._trigger_event("connect", sid, environ, run_async=False)
        if accepted is not None and accepted is not True:
            del self.sockets[sid]
            return self._unauthorized(accepted or None)
        ws = web.WebSocketResponse(max_msg_size=self.max_http_buffer_size, compress=False)
        await ws.prepare(request)
        # python-socketio keeps this dict for the whole session and nothing reads it again:
        # emptied, it no longer holds a copy of every request header (about 1.5 KiB a viewer)
        environ.clear()
        connection = request.transport
        assert connection is not None, "prepared, so connected"
        try:
            await socket.serve(ws, connection)
        finally:
            _drop_tracebacks(ws.exception())
            self.pings.ended(connection)
        if socket.closed:
            self.sockets.pop(sid, None)
        return ws
