"""Test support: a real redis-server on a free port, a real gala server on a free port, real
socket.io clients, and a generated show file that uses every cue action."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from aiohttp import web

from gala import appkeys
from gala.app import create_app
from gala.auth.tokens import PRODUCER, SPONSOR, hash_password
from gala.http.protocol_errors import app_runner
from gala.kernel.clock import Clock
from gala.kernel.errors import GalaError
from gala.node import Node
from gala.realtime.facade import VIEWER_NS
from gala.realtime.wire_fanout import socketio_event_packet
from gala.settings import Settings
from gala.stores.ports import Account

IN_CI = os.environ.get("CI") == "true"
SHOP_SHOW = "shop-show"
SHOP_PRICE = 12_990
LOCALES = ("en", "zh", "ar", "vi", "fr", "id")
DROP_SHOW = "drop-show"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisProcess:
    """A private redis-server on a loopback port and its own directory, which a test may stop,
    kill and start again on the same port and directory (so with what its AOF kept).
    `persist`: AOF with appendfsync everysec (what gala asks of a Redis for a live show), or
    nothing kept at all (`appendonly no`, which gala refuses without --allow-volatile-redis)."""

    def __init__(self, persist: bool = True) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server")
        self.binary = binary
        self.persist = persist
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="gala-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        aof = ["--appendonly", "yes", "--appendfsync", "everysec"] if self.persist else []
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                *(aof or ["--appendonly", "no"]),
                "--dir",
                self.workdir,
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self, kill: bool = False) -> None:
        """SIGTERM (Redis writes what it holds first), or SIGKILL with `kill`."""
        if self.proc is not None and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def redis_server(persist: bool = True) -> Iterator[str]:
    """Start a private redis-server on a free loopback port; yield its URL; stop it."""
    server = RedisProcess(persist)
    try:
        server.start()
        yield server.url
    finally:
        server.remove()


NATIVE = {
    "en": "",
    "zh": "欢迎 ",
    "ar": "مرحبا ",
    "vi": "Chào mừng ",
    "fr": "Bienvenue ",
    "id": "Selamat ",
}


def _text(value: str) -> dict[str, str]:
    return {locale: f"{NATIVE[locale]}{value} [{locale}]" for locale in LOCALES}


def _inline(table: dict[str, str]) -> str:
    return "{ " + ", ".join(f'{key} = "{value}"' for key, value in table.items()) + " }"


def show_toml(show_id: str = "test-show", cues: int = 30) -> str:
    """A show of `cues` cues cycling through every action kind, no timers."""
    lines = [
        "[show]",
        f'id = "{show_id}"',
        'title = "Test Show"',
        'currency = "CNY"',
        f"locales = {list(LOCALES)!r}".replace("'", '"'),
        'default_locale = "en"',
        'timezone = "Asia/Shanghai"',
        "",
        "[sponsors.acme]",
        'name = "Acme"',
        "",
        "[products.widget]",
        'sponsor = "acme"',
        "price_minor = 12990",
        "stock = 100",
        "per_viewer_limit = 2",
        'image = "/static/demo/products/aurora-x5.svg"',
        "name = { " + ", ".join(f'{k} = "Widget {k}"' for k in LOCALES) + " }",
        "",
    ]
    kinds = [
        '{ do = "banner.show", id = "b1", text = ' + _inline(_text("Welcome")) + " }",
        '{ do = "lower_third.show", id = "lt1", title = '
        + _inline(_text("Host"))
        + ', subtitle = "Stage left" }',
        '{ do = "product.show", product = "widget" }',
        '{ do = "countdown.start", id = "cd1", label = "Flash", duration_ms = 60000 }',
        '{ do = "overlay.update", id = "b1", text = "Welcome back" }',
        '{ do = "fullscreen.show", id = "fs1", title = "Opening", body = "Tonight" }',
        '{ do = "overlay.hide", id = "lt1" }',
        '{ do = "layer.clear", layer = "product_card" }',
        '{ do = "countdown.start", id = "cd2", label = "Midnight", until = "00:00" }',
        '{ do = "stage.clear" }',
        '{ do = "sale.open", product = "widget", duration_ms = 600000 }',
        '{ do = "sale.close", product = "widget" }',
        '{ do = "drop.launch", budget_minor = 1000, envelopes = 10, countdown_ms = 1000 }',
    ]
    for index in range(cues):
        lines += [
            "[[cues]]",
            f'id = "c{index + 1:02d}"',
            f'number = "{index + 1}"',
            f'label = "Cue {index + 1}"',
            f"actions = [{kinds[index % len(kinds)]}]",
            "",
        ]
    return "\n".join(lines)


def write_show(directory: Path, show_id: str = "test-show", cues: int = 30) -> str:
    path = directory / f"{show_id}.toml"
    path.write_text(show_toml(show_id, cues), encoding="utf-8")
    return str(path)


def shop_buy(key: str, quantity: int = 1) -> dict[str, Any]:
    """A `buy` of the shop show's widget with this key, as the viewer page sends it."""
    return {"show_id": SHOP_SHOW, "product_id": "widget", "quantity": quantity, "key": key}


def shop_show(tmp_path: Path, stock: int = 10, hold_ms: int = 300_000) -> str:
    name = "{ " + ", ".join(f'{loc} = "Widget {loc}"' for loc in LOCALES) + " }"
    path = tmp_path / "shop.toml"
    path.write_text(
        "\n".join(
            [
                "[show]",
                f'id = "{SHOP_SHOW}"',
                'title = "Shop"',
                'currency = "CNY"',
                f"locales = {list(LOCALES)!r}".replace("'", '"'),
                "",
                "[sponsors.acme]",
                'name = "Acme"',
                "",
                "[products.widget]",
                'sponsor = "acme"',
                f"price_minor = {SHOP_PRICE}",
                f"stock = {stock}",
                "per_viewer_limit = 2",
                f"name = {name}",
                "",
                "[[cues]]",
                'id = "c1"',
                'label = "Reveal"',
                'actions = [{ do = "product.show", product = "widget" }]',
                "",
                "[[cues]]",
                'id = "c2"',
                'label = "Open the sale"',
                'actions = [{ do = "sale.open", product = "widget", duration_ms = 600000, '
                f"hold_ms = {hold_ms} }}]",
                "",
                "[[cues]]",
                'id = "c3"',
                'label = "Close the sale"',
                'actions = [{ do = "sale.close", product = "widget" }]',
                "",
            ]
        )
    )
    return str(path)


def drop_show(
    tmp_path: Path,
    *,
    envelopes: int,
    budget_minor: int,
    countdown_ms: int = 0,
    duration_ms: int = 600_000,
    funder: str = "show",
) -> str:
    """A show whose cue `c1` launches one drop (funded by the show's own budget by default)."""
    path = tmp_path / "drops.toml"
    launch = (
        f'{{ do = "drop.launch", name = "rain", funder = "{funder}", '
        f"budget_minor = {budget_minor}, envelopes = {envelopes}, min_minor = 1, "
        f"countdown_ms = {countdown_ms}, duration_ms = {duration_ms} }}"
    )
    path.write_text(
        "\n".join(
            [
                "[show]",
                f'id = "{DROP_SHOW}"',
                'title = "Drops"',
                'currency = "CNY"',
                f"locales = {list(LOCALES)!r}".replace("'", '"'),
                "",
                "[sponsors.acme]",
                'name = "Acme"',
                "",
                "[[cues]]",
                'id = "c1"',
                'label = "Red envelopes"',
                f"actions = [{launch}]",
                "",
                "[[cues]]",
                'id = "c2"',
                'label = "Thank you"',
                "actions = []",
                "",
            ]
        )
    )
    return str(path)


def add_producer(store_url: str, username: str, password: str, workdir: Path) -> None:
    """Create a producer account with the CLI, as an operator would."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "gala",
            "user",
            "add",
            username,
            "--store",
            store_url,
            "--password-stdin",
        ],
        input=password + "\n",
        text=True,
        check=True,
        capture_output=True,
        cwd=workdir,
    )


@contextlib.contextmanager
def gala_process(
    store_url: str,
    show: str,
    workdir: Path,
    demo_grant_minor: int = 0,
    demo_budget_minor: int = 0,
    port: int = 0,
    env: Mapping[str, str] | None = None,
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`gala serve` in its own process (on `port`, or a free one); yields (process, base URL);
    stops it with SIGTERM if it still runs."""
    env = {
        **os.environ,
        "GALA_DEMO_WALLET_GRANT_MINOR": str(demo_grant_minor),
        "GALA_DEMO_BUDGET_MINOR": str(demo_budget_minor),
        "GALA_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gala",
            "serve",
            "--store",
            store_url,
            "--port",
            str(port),
            "--show",
            show,
        ],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            found = re.search(r"serving on (http://\S+)", line)
            if found:
                yield proc, found.group(1)
                break
        else:
            raise RuntimeError("gala did not start")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
        if proc.stdout is not None:
            proc.stdout.close()


@dataclass
class RunningServer:
    base_url: str
    app: web.Application
    runner: web.AppRunner

    @property
    def node(self) -> Node:
        node = appkeys.node_of(self.app)
        assert isinstance(node, Node)  # the edge sees it as its services; tests see all of it
        return node

    async def producer_token(
        self, username: str = "stage-manager", password: str = "correct horse battery"
    ) -> str:
        return await self.account_token(
            Account(username, hash_password(password), PRODUCER), password
        )

    async def sponsor_token(
        self, username: str, sponsor_id: str, password: str = "correct horse battery"
    ) -> str:
        account = Account(username, hash_password(password), SPONSOR, sponsor_id)
        return await self.account_token(account, password)

    async def account_token(self, account: Account, password: str) -> str:
        """Store the account, log it in over HTTP, return its token."""
        await self.node.store.hub.put_account(account)
        username = account.username
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{self.base_url}/api/login", json={"username": username, "password": password}
            ) as resp,
        ):
            body = await resp.json()
        assert body["ok"], body
        return str(body["data"]["token"])

    async def viewer_token(self) -> str:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.base_url}/api/viewer-token") as resp,
        ):
            body = await resp.json()
        return str(body["data"]["token"])


@contextlib.asynccontextmanager
async def running_server(
    settings: Settings, clock: Clock | None = None, port: int = 0
) -> AsyncIterator[RunningServer]:
    """The app in this process on `port` (or a free one); stopped when the context exits."""
    app = create_app(settings, clock)
    # the production runner (coded protocol errors), without its access log
    runner = app_runner(app, access_log=None, handle_signals=False, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", app, runner)
    finally:
        await runner.cleanup()


@dataclass(eq=False)
class Viewer:
    """A real socket.io viewer that records every `event` it receives."""

    client: socketio.AsyncClient
    events: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def call(self, event: str, payload: Any, namespace: str = "/") -> dict[str, Any]:
        reply: dict[str, Any] = await self.client.call(
            event, payload, namespace=namespace, timeout=30
        )
        return reply

    async def wait_for_seq(self, seq: int, timeout: float = 30) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.events or self.events[-1]["seq"] < seq:
            self.arrived.clear()
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"waited for seq {seq}; have {self.seqs()[-3:]}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), left)

    async def wait_for_event(self, event_type: str, timeout: float = 10) -> dict[str, Any]:
        """The data of the first `event_type` event this viewer received (waiting for it)."""
        for _ in range(int(timeout / 0.02)):
            for event in self.events:
                if event["type"] == event_type:
                    return dict(event["data"])
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {event_type} event")

    def seqs(self) -> list[int]:
        return [event["seq"] for event in self.events]

    async def close(self) -> None:
        await self.client.disconnect()


async def connect_viewer(base_url: str, token: str, namespace: str = "/") -> Viewer:
    client = socketio.AsyncClient(reconnection=False)
    viewer = Viewer(client)

    def on_event(data: dict[str, Any]) -> None:
        viewer.events.append(data)
        viewer.arrived.set()

    client.on("event", on_event, namespace="/")
    await client.connect(
        base_url,
        transports=["websocket"],
        auth={"token": token},
        namespaces=[namespace],
        wait_timeout=30,
    )
    return viewer


async def viewer_tokens(base_url: str, count: int) -> list[str]:
    """`count` fresh viewer tokens from the HTTP endpoint."""
    async with aiohttp.ClientSession() as http:
        tokens = []
        for _ in range(count):
            async with http.post(f"{base_url}/api/viewer-token") as resp:
                tokens.append((await resp.json())["data"]["token"])
        return tokens


async def connect_and_join(
    base_url: str, tokens: list[str], show_id: str, batch_size: int = 100
) -> list[socketio.AsyncClient]:
    """One socket.io client per token, joined to the show, connected `batch_size` at a time."""
    clients: list[socketio.AsyncClient] = []
    for start in range(0, len(tokens), batch_size):
        part = tokens[start : start + batch_size]
        batch = [socketio.AsyncClient(reconnection=False) for _ in part]
        await asyncio.gather(
            *(
                c.connect(base_url, transports=["websocket"], auth={"token": t}, wait_timeout=60)
                for c, t in zip(batch, part, strict=True)
            )
        )
        await asyncio.gather(*(c.call("join", {"show_id": show_id}, timeout=60) for c in batch))
        clients += batch
    return clients


@contextlib.asynccontextmanager
async def producer_client(
    base_url: str, username: str, password: str
) -> AsyncIterator[socketio.AsyncClient]:
    """A producer logged in over HTTP and connected to `/producer`."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base_url}/api/login", json={"username": username, "password": password}
        ) as resp,
    ):
        token = (await resp.json())["data"]["token"]
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        base_url, transports=["websocket"], auth={"token": token}, namespaces=["/producer"]
    )
    try:
        yield client
    finally:
        await client.disconnect()


RETRYABLE = ("busy", "store_unavailable", "starting")


async def call_as_the_page(
    client: Any, event: str, payload: dict[str, Any], timeout: float = 120
) -> dict[str, Any]:
    """A tap the way the viewer page sends it: a coded retryable refusal (`busy`,
    `store_unavailable`) is sent again with the same payload (so the same key) after the
    `retry_after_ms` it names, until it gets another answer."""
    while True:
        ack: dict[str, Any] = await client.call(event, payload, timeout=timeout)
        error = ack.get("error") or {}
        if ack.get("ok") or error.get("code") not in RETRYABLE:
            return ack
        await asyncio.sleep(error.get("retry_after_ms", 250) / 1000)


async def tap_batches(base_url: str, kind: str) -> tuple[float, float]:
    """(batches, taps in them) of one kind (`buy`, `grab`) from the node's /metrics
    (`gala_tap_batch_size`): more taps than batches means taps were decided together."""
    async with aiohttp.ClientSession() as http, http.get(f"{base_url}/metrics") as response:
        text = await response.text()
    found = {"count": 0.0, "sum": 0.0}
    for line in text.splitlines():
        for part in found:
            if line.startswith(f'gala_tap_batch_size_{part}{{kind="{kind}"}}'):
                found[part] = float(line.split()[-1])
    return found["count"], found["sum"]


async def code_of(call: Awaitable[Any]) -> str:
    """The refusal code a call raises, or "ok"."""
    try:
        await call
    except GalaError as refused:
        return refused.code
    return "ok"


class RawViewer:
    """A socket.io viewer on a bare socket with a small receive buffer, so the test decides
    when it reads, whether it answers pings, and when it stops reading."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.open_packet: dict[str, Any] = {}

    @classmethod
    async def connect(cls, base_url: str, token: str, join: str | None = None) -> RawViewer:
        """Open the websocket, connect the `/` namespace and, if given, join that show."""
        host, port = base_url.removeprefix("http://").split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await reader.readuntil(b"\r\n\r\n")
        viewer = cls(reader, writer)
        first = await viewer.read_text()
        assert first.startswith("0"), first
        viewer.open_packet = json.loads(first[1:])
        await viewer.send_text("40" + json.dumps({"token": token}))
        assert (await viewer.read_text()).startswith("40")
        if join is not None:
            await viewer.send_text("421" + json.dumps(["join", {"show_id": join}]))
            while not (await viewer.read_text()).startswith("431"):
                pass
        return viewer

    async def send_text(self, text: str) -> None:
        payload, mask = text.encode(), os.urandom(4)
        assert len(payload) < 1 << 16
        size = (
            bytes((0x81, 0x80 | len(payload)))
            if len(payload) < 126
            else bytes((0x81, 0x80 | 126)) + len(payload).to_bytes(2, "big")
        )
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(size + mask + masked)
        await self.writer.drain()

    async def read_frame(self) -> tuple[int, bytes]:
        """The next frame's opcode and payload (0x1 text, 0x8 close)."""
        head = await self.reader.readexactly(2)
        size = head[1] & 0x7F
        if size == 126:
            size = int.from_bytes(await self.reader.readexactly(2), "big")
        elif size == 127:
            size = int.from_bytes(await self.reader.readexactly(8), "big")
        return head[0] & 0x0F, await self.reader.readexactly(size)

    async def read_text(self) -> str:
        opcode, payload = await self.read_frame()
        assert opcode == 0x1, f"expected a text frame, got opcode {opcode:#x}"
        return payload.decode()

    def close(self) -> None:
        self.writer.transport.abort()


def data_of_packet_size(size: int, seq: int, filler: str) -> dict[str, Any]:
    """Event data whose socket.io packet is exactly `size` bytes (UTF-8)."""
    data: dict[str, Any] = {"seq": seq, "pad": ""}
    base = len(socketio_event_packet(VIEWER_NS, "event", data))
    pad = ""
    while base + len(pad.encode()) + len(filler.encode()) <= size:
        pad += filler
    pad += "x" * (size - base - len(pad.encode()))
    data["pad"] = pad
    assert len(socketio_event_packet(VIEWER_NS, "event", data)) == size
    return data
