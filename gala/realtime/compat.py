"""Every use gala makes of a library's private API, in one place; `tests/unit/test_compat.py`
checks each hook against the installed versions, so an upgrade that moves one fails there.

gala keeps python-socketio's and python-engineio's servers, their wire format and their public
API, and replaces two things: the engine.io session of each client (`engineio_session.py`) and
the decoding of a client's socket.io packets (`edge_packet_class`, so bad input is refused before
any handler runs and never costs a traceback in the log). The hooks, and why each is needed:

python-socketio
- `AsyncServer._engineio_server_class()`, called by its `__init__` for the class of its engine.io
  server: overridden by `SocketServer`, so the server runs on lean sessions.
- `AsyncServer._handle_event(eio_sid, namespace, id, data)`, which `_handle_eio_message` awaits
  for every EVENT packet and which starts a task per event: overridden by `SocketServer`, which
  hands the event to the facade's router with a `reply` that writes the ack, so a handler that
  never waits is answered inline by the session's reader and the others take one task each.
  It finds the socket.io sid with `manager.sid_from_eio_sid(eio_sid, namespace)` and
  `manager.is_connected(sid, namespace)`, as python-socketio does; an ack is encoded as
  `packet.Packet.encode` writes one (`ack_packet`, checked against it).
- The engine.io handlers its `__init__` registers with `eio.on`, called with `(eio_sid, environ)`,
  `(eio_sid, data)` and `(eio_sid, reason)`: `EngineServer.deliver` calls them from the engine.io
  server's `handlers` itself, so a failure is logged here and no client's input ever reaches
  engine.io's `_trigger_event`, which logs a traceback ("message async handler error").
- `packet.Packet.decode(encoded_packet)` (the class passed as `serializer=` is a documented
  option; what its `decode` leaves behind is not): it sets the packet's type, namespace and id
  before it decodes the JSON data and raises `ValueError` or `RecursionError` (data nested deeper
  than the interpreter's recursion limit) from `json.loads`, so a refused packet still knows the
  namespace and ack id its refusal goes to.
- Its `AsyncServer._handle_eio_message` raises `ValueError` for a packet type a server cannot
  receive (CONNECT_ERROR, the binary types without their attachments): `EdgePacket` turns such
  packets into refusals first.

python-engineio
- `AsyncServer._handle_connect(environ, transport, jsonp_index)`: the one place its server makes
  a session, overridden to call `EngineServer.open_session`; `handle_request` returns what it
  returns unchanged when it is not a dict (an aiohttp response).
- `AsyncServer.sockets`, the sessions by id, which `handle_request`, `send_packet`, `disconnect`
  and `_get_socket` read: `EngineServer.add_session`, `drop_session` and `sessions`.
- What those read of a session (`EngineSocket`): `connected` and `upgraded` (an HTTP request for
  a session is refused until it is connected and once it is upgraded), `closed`, `session`, and
  the coroutines `send(pkt)` and `close(wait, abort, reason)`, as `async_socket.AsyncSocket` has
  them. A lean session is not an `AsyncSocket`: it has no queue, and nothing waits on one; it
  also has `write_message(encoded)`, with which `SocketServer` writes an ack without a coroutine.
- `async_drivers.aiohttp.translate_request(request)`, the environ engine.io builds from an
  aiohttp request: rebuilt on access by `RequestEnviron`.

aiohttp
- `WebSocketResponse.exception()` keeps the error that ended a websocket, and that error's
  traceback holds frames that point back at the response (`drop_tracebacks`).

CPython 3.11
- A coroutine suspends only at a `YIELD_VALUE` of its own code (`await`, `async for` and
  `async with` compile to one; the body of a nested function is a code object of its own):
  `never_suspends` reads a handler's code for one, so a handler with none is run to its end by
  `finish` in the reader, outside any task of its own.
- asyncio's `_SelectorSocketTransport._read_ready_cb` still holds a bound method of the
  transport once its connection is lost (`_sock` is then None): a cycle `release_transport`
  breaks.
"""

from __future__ import annotations

import dis
import functools
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from typing import Any, ClassVar, TypeVar, cast

import engineio
import socketio
from aiohttp import web
from engineio.async_drivers.aiohttp import translate_request
from socketio import packet as sio_packet

log = logging.getLogger(__name__)
T = TypeVar("T")

BAD_PAYLOAD = "bad_payload"
PAYLOAD_TOO_LARGE = "payload_too_large"

# The event a refused packet is delivered as: the NUL keeps it apart from any name a client
# means to send (one that sends it anyway has no `Refused` to pass and is answered as unknown)
REFUSED_EVENT = "\x00refused"


class Refused:
    """Why a client's packet was refused while it was decoded; it stands in for its data."""

    __slots__ = ("code", "message")

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"Refused({self.code!r}, {self.message!r})"


def refusal_in(value: Any) -> Refused | None:
    """The refusal a decoded packet carries in place of its data (`value`), if any."""
    return value if isinstance(value, Refused) else None


def deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` nests lists and dicts more than `limit` levels deep (a scalar is 0, `[]`
    and `{"a": 1}` are 1). Level by level without recursion, so any depth is safe to ask about;
    the cost is one visit per element."""
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        inner: list[Any] = []
        for container in level:
            items = container.values() if isinstance(container, dict) else container
            inner.extend(item for item in items if isinstance(item, dict | list))
        level = inner
    return False


def edge_packet_class(*, max_chars: int, max_depth: int) -> type[Any]:
    """A socket.io packet class (for `serializer=`) whose `decode` refuses, in place of the data,
    a packet longer than `max_chars` characters (before decoding any JSON), data nested more than
    `max_depth` levels, anything that is not a socket.io packet a server can take (binary
    attachments included), and an event that is not an array starting with its name. A refused
    event keeps its namespace and ack id and is delivered as `REFUSED_EVENT` with the `Refused`
    as its argument; a refused CONNECT carries the `Refused` as its auth; other refused packets
    are delivered as `REFUSED_EVENT` without an ack id, so nothing answers them."""
    return type("EdgePacket", (_EdgePacket,), {"max_chars": max_chars, "max_depth": max_depth})


def _bounded_int(digits: str) -> int:
    """An integer of the JSON text, refused past 100 digits, as engine.io's JSON does."""
    if len(digits) > 100:
        raise ValueError("Integer is too large")
    return int(digits)


class _PacketJson:
    """The JSON of socket.io packets (`Packet.json`): engine.io's (`engineio.json`, integers of
    at most 100 digits) with its decoder built once; `engineio.json.loads` passes `parse_int`
    to `json.loads`, which builds a decoder per call (1.9 us of a `time` ping's 11 us decode,
    timeit)."""

    loads = staticmethod(json.JSONDecoder(parse_int=_bounded_int).decode)
    dumps = staticmethod(json.dumps)


class _EdgePacket(sio_packet.Packet):  # type: ignore[misc]
    json = _PacketJson
    max_chars: ClassVar[int]
    max_depth: ClassVar[int]
    packet_type: int
    namespace: str | None
    id: int | None
    data: Any

    def decode(self, encoded_packet: Any) -> int:
        if not isinstance(encoded_packet, str) or not encoded_packet:
            # a binary engine.io message is an attachment of a binary packet, never accepted
            return self._refuse(Refused(BAD_PAYLOAD, "binary payloads are not accepted"))
        if len(encoded_packet) > self.max_chars:
            self._decode_header(encoded_packet)
            return self._refuse(
                Refused(
                    PAYLOAD_TOO_LARGE,
                    f"the message is {len(encoded_packet)} characters; "
                    f"the limit is {self.max_chars}",
                )
            )
        try:
            attachments = super().decode(encoded_packet)
        except RecursionError:
            return self._refuse(self._too_deep())
        except ValueError:
            return self._refuse(Refused(BAD_PAYLOAD, "the message is not a socket.io packet"))
        if self.packet_type in (sio_packet.BINARY_EVENT, sio_packet.BINARY_ACK):
            return self._refuse(Refused(BAD_PAYLOAD, "binary payloads are not accepted"))
        if self.packet_type not in _RECEIVABLE:
            return self._refuse(Refused(BAD_PAYLOAD, "no such packet from a client"))
        # an event's or an ack's data is the array of its arguments: one level more
        wrapped = 1 if self.packet_type in (sio_packet.EVENT, sio_packet.ACK) else 0
        # every level opens with a bracket of the text, so a text with few brackets (a `time`
        # ping has 2) is shallow enough without the walk (1.9 us of a ping's 11 us decode)
        if _brackets(encoded_packet) > self.max_depth + wrapped and deeper_than(
            self.data, self.max_depth + wrapped
        ):
            return self._refuse(self._too_deep())
        if self.packet_type == sio_packet.EVENT and not (
            isinstance(self.data, list) and self.data and isinstance(self.data[0], str)
        ):
            return self._refuse(
                Refused(BAD_PAYLOAD, "an event is an array that starts with its name")
            )
        if self.packet_type == sio_packet.ACK and not isinstance(self.data, list):
            return self._refuse(Refused(BAD_PAYLOAD, "an ack is an array"))
        return int(attachments or 0)

    def _too_deep(self) -> Refused:
        return Refused(BAD_PAYLOAD, f"the payload is nested more than {self.max_depth} levels deep")

    def _decode_header(self, encoded_packet: str) -> None:
        """Type, namespace and id of a packet too long to decode: the text before its data."""
        head = encoded_packet[:_HEADER_CHARS]
        starts = [at for at in (head.find(mark) for mark in '[{"') if at >= 0]
        if not starts:
            return
        try:
            super().decode(head[: min(starts)])
        except ValueError:
            self.id = None

    def _refuse(self, refused: Refused) -> int:
        if self.packet_type == sio_packet.CONNECT:
            self.data = refused
        elif self.packet_type == sio_packet.DISCONNECT:
            self.data = None
        else:
            if self.packet_type not in (sio_packet.EVENT, sio_packet.BINARY_EVENT):
                self.id = None  # nothing to answer: the client did not ask
            self.packet_type = sio_packet.EVENT
            self.data = [REFUSED_EVENT, refused]
        return 0


def _brackets(text: str) -> int:
    return text.count("[") + text.count("{")


_RECEIVABLE = (sio_packet.CONNECT, sio_packet.DISCONNECT, sio_packet.EVENT, sio_packet.ACK)
# type, attachment count, namespace and id come before the data; 256 characters hold any of ours
_HEADER_CHARS = 256


Reply = Callable[[Any], None]
# (namespace, socket.io sid, event name, the event's arguments, reply): answers one event and
# calls `reply` once with the ack's data (a no-op when the client asked for no ack)
EventRouter = Callable[[str, str, str, list[Any], Reply], None]


def _no_reply(_data: Any) -> None:
    return None


def ack_packet(namespace: str, ack_id: int, data: Any) -> str:
    """The socket.io ACK of `ack_id` with `data` as its one argument (none for None), exactly
    as python-socketio's `Packet.encode` writes it: compact JSON, non-ASCII escaped."""
    prefix = "3" if namespace == "/" else f"3{namespace},"
    return prefix + str(ack_id) + _ACK_JSON.encode([] if data is None else [data])


_ACK_JSON = json.JSONEncoder(separators=(",", ":"))  # built once: `json.dumps` builds one a call


class SocketServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server on the engine.io server `engine_factory` builds (it is called
    with the engine.io options python-socketio passes on). With a `route_event`, every event a
    connected client sends goes to it, called by the session's reader with no task of its own
    (python-socketio starts one per event), and its acks are written straight to the session;
    connect, disconnect and acks from clients stay python-socketio's."""

    def __init__(
        self,
        engine_factory: Callable[..., Any],
        route_event: EventRouter | None = None,
        **kwargs: Any,
    ) -> None:
        self._engine_factory = engine_factory
        self._route_event = route_event
        super().__init__(**kwargs)

    def _engineio_server_class(self) -> Callable[..., Any]:
        return self._engine_factory

    async def _handle_event(
        self, eio_sid: str, namespace: str | None, ack_id: int | None, data: list[Any]
    ) -> None:
        route = self._route_event
        if route is None:
            await super()._handle_event(eio_sid, namespace, ack_id, data)
            return
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None or not self.manager.is_connected(sid, namespace):
            return  # not connected to that namespace (python-socketio drops it too)
        reply = (
            _no_reply
            if ack_id is None
            else functools.partial(self._write_ack, eio_sid, namespace, ack_id)
        )
        route(namespace, sid, data[0], data[1:], reply)

    def _write_ack(self, eio_sid: str, namespace: str, ack_id: int, data: Any) -> None:
        session = self.eio.sockets.get(eio_sid)
        if not isinstance(session, EngineSocket):
            return  # gone: the client hung up before its answer
        try:
            encoded = ack_packet(namespace, ack_id, data).encode()
        except (TypeError, ValueError):  # a handler answered what JSON cannot carry: our bug
            log.exception("the ack of a %s event could not be encoded", namespace)
            return
        session.write_message(encoded)


def never_suspends(handler: Callable[..., Any]) -> bool:
    """Whether `handler` is a coroutine function (or a bound method of one) whose own code
    never suspends: no `await`, `async for` or `async with`. Its coroutine then runs to its end
    at its first step, so `finish` can run it where it is called, outside any task."""
    function = getattr(handler, "__func__", handler)
    if not inspect.iscoroutinefunction(function) or not hasattr(function, "__code__"):
        return False
    return not any(op.opname == "YIELD_VALUE" for op in dis.get_instructions(function.__code__))


def finish(awaitable: Awaitable[T]) -> T:
    """Run the coroutine of a handler that `never_suspends` to its end, here and now; what it
    raises is raised."""
    coroutine = cast(Coroutine[Any, Any, T], awaitable)
    try:
        coroutine.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    coroutine.close()
    raise RuntimeError(f"{coroutine!r} suspended: it was not a handler that never suspends")


class EngineSocket:
    """A session as python-engineio's server reads it (see the module's docstring). The
    attributes are those `engineio.base_socket.BaseSocket.__init__` sets, less its queue and its
    ping time, which only its own socket and its service task read."""

    def __init__(self, server: Any, sid: str) -> None:
        self.server = server
        self.sid = sid
        self.connected = False
        self.upgrading = False
        self.upgraded = False
        self.closing = False
        self.closed = False

    # python-socketio keeps its user sessions here (`AsyncServer.session`); gala has none, so
    # the dict is made when first asked for, not an empty one per connection (64 bytes)
    _session: dict[str, Any] | None = None

    @property
    def session(self) -> dict[str, Any]:
        if self._session is None:
            self._session = {}
        return self._session

    @session.setter
    def session(self, session: dict[str, Any]) -> None:
        self._session = session

    def open(self) -> None:
        """The websocket is up: engine.io refuses any HTTP request for this session from now."""
        self.connected = self.upgraded = True

    async def send(self, pkt: Any) -> None:
        raise NotImplementedError

    def write_message(self, encoded: bytes) -> None:
        """Write an engine.io MESSAGE carrying `encoded` (a socket.io packet's text) now."""
        raise NotImplementedError

    async def close(
        self, wait: bool = True, abort: bool = False, reason: str | None = None
    ) -> None:
        raise NotImplementedError


class EngineServer(engineio.AsyncServer):  # type: ignore[misc]
    """python-engineio's server whose sessions are made by `open_session`."""

    def _handle_connect(
        self, environ: dict[str, Any], transport: str, jsonp_index: int | None = None
    ) -> Awaitable[web.StreamResponse]:
        # not a coroutine of its own: `handle_request` awaits the session's, so a session holds
        # no extra frame (about 250 bytes each, tracemalloc)
        return self.open_session(environ, transport)

    async def open_session(self, environ: dict[str, Any], transport: str) -> web.StreamResponse:
        """Answer a request that opens a session; every other request is engine.io's."""
        raise NotImplementedError

    def add_session(self, sid: str, session: EngineSocket) -> None:
        self.sockets[sid] = session

    def drop_session(self, sid: str) -> None:
        self.sockets.pop(sid, None)

    def sessions(self) -> list[EngineSocket]:
        """The sessions open now (a copy: closing one drops it from the registry)."""
        return list(self.sockets.values())

    async def deliver(self, event: str, *args: Any) -> Any:
        """Call the handler registered for the engine.io `event` ("connect", "message" or
        "disconnect"); what it raises is logged with its traceback here, and never ends the
        session (client input that python-socketio cannot take is refused by `EdgePacket`
        before it can raise)."""
        handler = self.handlers.get(event)
        if handler is None:
            return None
        try:
            result = handler(*args)
            return await result if inspect.isawaitable(result) else result
        except Exception:  # noqa: BLE001 - one failed packet must not end the session
            log.exception("engine.io %s handler failed", event)
            return False if event == "connect" else None


class RequestEnviron(Mapping[str, Any]):
    """The WSGI environ of a session, as python-engineio builds it from the aiohttp request,
    with `REMOTE_ADDR` and `REMOTE_PORT` the client's (engine.io's aiohttp driver puts
    127.0.0.1 and 0 there). python-socketio keeps a session's environ for the whole session; a
    dict with a copy of every header costs about 1.6 KB per viewer (tracemalloc, 300 idle viewers
    with a phone browser's headers: 21.5 KB each against 19.9 KB with an emptied dict). This
    holds the request (alive for the session anyway) and the peer address the transport already
    has, and builds the dict when it is read, which handlers do at connect: 48 bytes a session,
    and the environ is whole."""

    __slots__ = ("_request", "_peername")

    def __init__(self, request: web.Request) -> None:
        self._request = request
        transport = request.transport
        self._peername = transport.get_extra_info("peername") if transport is not None else None

    def _address(self) -> tuple[str, str] | None:
        peer = self._peername
        if isinstance(peer, tuple | list) and len(peer) >= 2:
            return str(peer[0]), str(peer[1])
        return None

    def __getitem__(self, key: str) -> Any:
        if key == AIOHTTP_REQUEST:
            return self._request
        if key in ("REMOTE_ADDR", "REMOTE_PORT"):
            address = self._address()
            if address is not None:
                return address[0] if key == "REMOTE_ADDR" else address[1]
        return self._environ()[key]

    def _environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = translate_request(self._request)
        address = self._address()
        if address is not None:
            environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = address
        return environ

    def __iter__(self) -> Iterator[str]:
        return iter(self._environ())

    def __len__(self) -> int:
        return len(self._environ())


AIOHTTP_REQUEST = "aiohttp.request"  # engine.io's aiohttp driver's key for the request


def request_of(environ: Mapping[str, Any]) -> web.Request | None:
    """The aiohttp request of an engine.io environ."""
    request = environ.get(AIOHTTP_REQUEST)
    return request if isinstance(request, web.Request) else None


def drop_tracebacks(error: BaseException | None) -> None:
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


def release_transport(transport: Any) -> bool:
    """CPython 3.11's socket transport keeps a bound method of itself (`_read_ready_cb`) after
    its connection is lost: a 6-object cycle per connection left for a full collection, which
    the heap policy (`gala.heap`) would keep frozen. Once the connection is lost (its `_sock` is
    None) the reference is dropped, so the transport is freed at once. False while the
    connection is still being closed: ask again later."""
    if getattr(transport, "_sock", None) is not None:
        return False
    if hasattr(transport, "_read_ready_cb"):
        transport._read_ready_cb = None
    return True
