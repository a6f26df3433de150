"""The realtime facade: the only module that imports `socketio`.

It owns the python-socketio server (websocket transport only, per-message compression off), the
authentication of every connection (a signed token in the socket.io `auth` payload, checked
against the namespace's roles), the registry of typed handlers, and rooms. A handler receives the
`Connection` (who is calling) and the raw payload, and returns data or raises a `GalaError`; this
module turns that into the one ack shape and keeps the connection up on any error. Domain code
never sees a socket id.

Every connection is a lean engine.io session (`engineio_session.py`: one task, direct writes, a
shared ping wheel, compression off). Its events come to `_route_event` from the session's reader
(`compat.SocketServer`), in the order they arrive: a handler that never suspends is answered
there, with no task, and any other runs in one task of its own, so a slow one delays nothing
else. Show-log broadcasts take the fast path (`broadcast_fast`, see `wire_fanout.py`), written
by one task per room straight to each session's transport.

Bad input is refused at the edge, while a client's packet is decoded and before any handler runs
(`compat.edge_packet_class`): a message longer than the payload limit allows is not decoded, and
data nested more than `MAX_PAYLOAD_DEPTH` levels is refused (deeper than the interpreter's
recursion limit, `json.loads` itself would fail), each answered with the ack shape when the
client asked for an ack, and none of it written to the log. What this module needs of
python-socketio's internals goes through `compat`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import socketio
from aiohttp import web

from gala.auth.tokens import Identity
from gala.errors_map import ok, refusal
from gala.kernel.errors import BadRequest, Forbidden, GalaError, Unavailable
from gala.metrics import Metrics
from gala.realtime import compat, wire_fanout
from gala.realtime.engineio_session import LeanEngineServer

log = logging.getLogger(__name__)

VIEWER_NS = "/"
PRODUCER_NS = "/producer"

# no message of the protocol nests deeper than a few levels; 32 leaves room for any to grow
MAX_PAYLOAD_DEPTH = 32
# A message's header (type, namespace, ack id) and its event name fit in 1 KiB, and a compact
# JSON payload is never longer in characters than the ASCII JSON the payload limit measures: a
# message longer than the limit plus this is refused before its JSON is decoded
MESSAGE_HEADER_CHARS = 1024
# engine.io's limit: a longer websocket message is not read, the connection is closed (1009)
MAX_MESSAGE_BYTES = 1 << 20


@dataclass(eq=False, slots=True)
class Connection:
    sid: str
    namespace: str
    identity: Identity
    rooms: set[str] = field(default_factory=set)
    transport: wire_fanout.WireTransport | None = None
    address: str | None = None  # the client's IP address, as its TCP peer


Handler = Callable[[Connection, Any], Awaitable[Any]]
Authenticate = Callable[[Any], Identity]


@dataclass(frozen=True, slots=True)
class _Route:
    handler: Handler
    inline: bool  # it never suspends: answered by the reader, with no task (`_route_event`)


def _answer_now(handler: Handler, conn: Connection | None, payload: Any) -> dict[str, Any]:
    """The ack of a handler that never suspends, run to its end here."""
    try:
        if conn is None:
            raise Forbidden("not connected", code="unauthorized")
        return ok(compat.finish(handler(conn, payload)))
    except Exception as error:  # noqa: BLE001 - every failure becomes an ack
        return refusal(error)[1]


class Realtime:
    def __init__(
        self,
        max_payload_bytes: int,
        authenticate: Authenticate,
        namespace_roles: dict[str, tuple[str, ...]],
        max_viewer_buffer_bytes: int = 512 * 1024,
        ping_interval_s: int = 25,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or Metrics()
        self.draining = False
        self._in_flight = 0  # handlers running now (a drain answers them before it closes)
        self._idle = asyncio.Event()
        self._idle.set()
        self._authenticate = authenticate
        self._namespace_roles = namespace_roles
        self._connections: dict[tuple[str, str], Connection] = {}
        self._rooms: dict[tuple[str, str], dict[str, Connection]] = {}
        self._max_viewer_buffer_bytes = max_viewer_buffer_bytes
        self._fanouts: dict[tuple[str, str], wire_fanout.FanoutRoom] = {}
        self._routes: dict[str, dict[str, _Route]] = {
            namespace: {} for namespace in namespace_roles
        }
        self._answering: set[asyncio.Task[None]] = set()  # handlers running in a task
        self.sio = compat.SocketServer(
            functools.partial(
                LeanEngineServer,
                max_buffer_bytes=max_viewer_buffer_bytes,
                on_cut_off=self._metrics.viewers_cut_off.inc,
            ),
            route_event=self._route_event,
            serializer=compat.edge_packet_class(
                max_chars=max_payload_bytes + MESSAGE_HEADER_CHARS, max_depth=MAX_PAYLOAD_DEPTH
            ),
            async_mode="aiohttp",
            transports=["websocket"],
            http_compression=False,
            max_http_buffer_size=MAX_MESSAGE_BYTES,
            ping_interval=ping_interval_s,
            ping_timeout=ping_interval_s,  # a missed pong is noticed at the next ping
            logger=False,
            engineio_logger=False,
            namespaces=list(namespace_roles),
        )
        for namespace in namespace_roles:
            self.sio.on("connect", self._connect_handler(namespace), namespace=namespace)
            self.sio.on("disconnect", self._disconnect_handler(namespace), namespace=namespace)

    def attach(self, app: web.Application) -> None:
        self.sio.attach(app, socketio_path="socket.io")

    def handle(self, namespace: str, event: str, handler: Handler) -> None:
        """Answer `event` on `namespace` with `handler` (when it runs: `_route_event`)."""
        self._routes[namespace][event] = _Route(handler, compat.never_suspends(handler))

    def _route_event(
        self, namespace: str, sid: str, event: str, args: list[Any], reply: compat.Reply
    ) -> None:
        """Answer one event of a connected client; the client's reader calls this for each of
        its events in the order they arrive. A handler that never suspends (no `await`: the
        `time` ping) is answered here, its ack written before the reader reads on, with no
        task; any other handler runs in one task, started now, so a slow one (a buy waiting on
        the store) holds up neither this connection's next messages nor anyone else's. An ack
        is written when its handler is done: inline answers in arrival order, a task's answer
        when it finishes, ahead of or after acks to later messages."""
        route = self._routes[namespace].get(event)
        if route is None:
            reply(self._unrouted(namespace, sid, event, args))
            return
        conn = self._connections.get((namespace, sid))
        payload = args[0] if len(args) == 1 else (None if not args else list(args))
        if route.inline:
            reply(_answer_now(route.handler, conn, payload))
            return
        self._in_flight += 1
        self._idle.clear()
        task = asyncio.get_running_loop().create_task(
            self._answer_later(route.handler, conn, payload, reply)
        )
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _answer_later(
        self, handler: Handler, conn: Connection | None, payload: Any, reply: compat.Reply
    ) -> None:
        try:
            try:
                if conn is None:
                    raise Forbidden("not connected", code="unauthorized")
                answer = ok(await handler(conn, payload))
            except Exception as error:  # noqa: BLE001 - every failure becomes an ack
                answer = refusal(error)[1]
            reply(answer)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    def _unrouted(self, namespace: str, sid: str, event: str, args: list[Any]) -> dict[str, Any]:
        """The refusal of an event no handler answers here: one the edge refused while it was
        decoded (`compat.REFUSED_EVENT`), another namespace's command, or an unknown one."""
        why = compat.refusal_in(args[0]) if event == compat.REFUSED_EVENT and args else None
        if why is not None:
            return refusal(BadRequest(why.message, code=why.code))[1]
        conn = self._connections.get((namespace, sid))
        role = conn.identity.role if conn is not None else None
        for other, routes in self._routes.items():
            if event in routes and role not in self._namespace_roles[other]:
                error: GalaError = Forbidden(
                    f"{event!r} is a command of {other}, which needs the "
                    f"{' or '.join(self._namespace_roles[other])} role"
                )
                return refusal(error)[1]
        error = BadRequest(f"no message {event!r} on {namespace}", code="unknown_message")
        return refusal(error)[1]

    def _connect_handler(self, namespace: str) -> Callable[..., Awaitable[bool]]:
        roles = self._namespace_roles[namespace]

        async def connect(sid: str, environ: Mapping[str, Any], auth: Any = None) -> bool:
            token = auth.get("token") if isinstance(auth, dict) else None
            try:
                if self.draining:
                    raise Unavailable("this node is stopping: connect again", code="draining")
                refused = compat.refusal_in(auth)
                if refused is not None:
                    raise BadRequest(refused.message, code=refused.code)
                identity = self._authenticate(token)
                if identity.role not in roles:
                    raise Forbidden(
                        f"{namespace} needs the {' or '.join(roles)} role", code="forbidden"
                    )
            except GalaError as error:
                # socket.io clients see `message` and `data` in their connect_error
                raise socketio.exceptions.ConnectionRefusedError(
                    error.message, error.as_dict()
                ) from None
            # the session's own connection: the fast path writes to it (see `wire_fanout`)
            request = compat.request_of(environ)
            transport = wire_fanout.transport_of(request.transport if request else None)
            self._connections[(namespace, sid)] = Connection(
                sid, namespace, identity, transport=transport, address=environ.get("REMOTE_ADDR")
            )
            return True

        return connect

    def _disconnect_handler(self, namespace: str) -> Callable[..., Awaitable[None]]:
        async def disconnect(sid: str, *_reason: Any) -> None:
            conn = self._connections.pop((namespace, sid), None)
            if conn is None:
                return
            for room in conn.rooms:
                members = self._rooms.get((namespace, room))
                if members is not None:
                    members.pop(sid, None)
                fanout = self._fanouts.get((namespace, room))
                if fanout is not None:
                    fanout.remove(sid)

        return disconnect

    async def join(self, conn: Connection, room: str) -> None:
        await self.sio.enter_room(conn.sid, room, namespace=conn.namespace)
        conn.rooms.add(room)
        self._rooms.setdefault((conn.namespace, room), {})[conn.sid] = conn
        if conn.transport is not None:
            self._fanout(conn.namespace, room).add(conn.sid, conn.transport)

    async def leave(self, conn: Connection, room: str) -> None:
        await self.sio.leave_room(conn.sid, room, namespace=conn.namespace)
        conn.rooms.discard(room)
        self._rooms.get((conn.namespace, room), {}).pop(conn.sid, None)
        fanout = self._fanouts.get((conn.namespace, room))
        if fanout is not None:
            fanout.remove(conn.sid)

    def room_size(self, namespace: str, room: str) -> int:
        return len(self._rooms.get((namespace, room), ()))

    def identities_in(self, namespace: str, room: str) -> list[Identity]:
        return [conn.identity for conn in self._rooms.get((namespace, room), {}).values()]

    async def broadcast(self, namespace: str, room: str, event: str, data: Any) -> None:
        await self.sio.emit(event, data, room=room, namespace=namespace)

    def broadcast_fast(self, namespace: str, room: str, event: str, messages: list[Any]) -> None:
        """Send `event` once per item of `messages`, in order, to every connection in `room`:
        encoded and framed once here, the same bytes written to each transport by the room's
        writer, slow readers cut off (see `wire_fanout.FanoutRoom`). Never waits: broadcasts
        from any number of tasks keep the order of their calls."""
        if not messages or not self._rooms.get((namespace, room)):
            return
        self._fanout(namespace, room).publish(
            b"".join(
                wire_fanout.websocket_frame(
                    wire_fanout.socketio_event_packet(namespace, event, data)
                )
                for data in messages
            )
        )

    @property
    def cut_off(self) -> int:
        """How many slow readers the fast path has cut off."""
        return sum(fanout.cut_off for fanout in self._fanouts.values())

    def _fanout(self, namespace: str, room: str) -> wire_fanout.FanoutRoom:
        fanout = self._fanouts.get((namespace, room))
        if fanout is None:
            fanout = self._fanouts[(namespace, room)] = wire_fanout.FanoutRoom(
                self._max_viewer_buffer_bytes,
                on_round=self._metrics.fanout_round_seconds.observe,
                on_cut_off=self._metrics.viewers_cut_off.inc,
            )
        return fanout

    def connection_count(self) -> int:
        return len(self._connections)

    async def drain(self, within_ms: int, timeout_s: float) -> None:
        """Before the node stops: refuse new connections, tell every client to come back (to
        whichever node serves it next) at a random moment within `within_ms`, answer what is in
        flight, write out what the fan-out holds, then close every session. Bounded by
        `timeout_s` as a whole; what is still in flight then is cut off with its connection."""
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        # one frame per namespace, written to every connection like a broadcast
        frames = {
            namespace: wire_fanout.websocket_frame(
                wire_fanout.socketio_event_packet(namespace, "drain", {"within_ms": within_ms})
            )
            for namespace in self._namespace_roles
        }
        for (namespace, _sid), conn in list(self._connections.items()):
            if conn.transport is not None and not conn.transport.is_closing():
                wire_fanout.write_or_cut_off(
                    conn.transport, frames[namespace], self._max_viewer_buffer_bytes
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), max(0.0, deadline - loop.time()))
        for fanout in self._fanouts.values():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fanout.flushed(), max(0.0, deadline - loop.time()))
        await self._close_sessions()

    async def _close_sessions(self) -> None:
        """Close every engine.io session (its websocket too, after what it has buffered), so
        no request handler is left waiting for a client to hang up."""
        for fanout in self._fanouts.values():
            await fanout.close()
        for namespace, sid in list(self._connections):
            await self.sio.disconnect(sid, namespace=namespace)
        for session in self.sio.eio.sessions():
            await session.close(wait=False)
        await self.sio.eio.pings.stop()

    async def close(self) -> None:
        await self._close_sessions()
