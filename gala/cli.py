"""The `gala` command line: run a node, run the demo, manage accounts, check show files.

gala demo                       set up the demo producer and sponsor, serve the demo gala (SQLite)
gala serve [--store URL] ...    run a node
gala user add NAME [--role producer|sponsor --sponsor ID] [--password-stdin]
gala show check FILE...         validate show files without serving them
gala audit [--store URL]        check every money and stock invariant (exit 1 on a difference)
gala budget deposit FUNDER AMOUNT_MINOR --ref REF
                                pay money into a sponsor's (FUNDER = sponsor:ID) or a show's
                                (FUNDER = show:ID) budget for drops; idempotent by REF
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import getpass
import logging
import os
import random
import secrets
import signal
import socket
import sys
from collections.abc import Sequence

from aiohttp import web

from gala import appkeys
from gala.app import create_app
from gala.auth.tokens import ACCOUNT_ROLES, PRODUCER, SPONSOR, hash_password
from gala.heap import HeapPolicy
from gala.http.protocol_errors import app_runner
from gala.kernel import ledger
from gala.kernel.clock import SystemClock
from gala.kernel.errors import GalaError
from gala.kernel.ids import is_valid_id
from gala.logs import configure_logging
from gala.money_audit import audit_store
from gala.runofshow.showfile import load_show_file
from gala.settings import (
    Settings,
    SettingsError,
    check_store_url,
    default_node_id,
    settings_from_env,
)
from gala.stores.factory import open_store
from gala.stores.ports import Account
from gala.supervisor import supervise
from redpackets.service import DropService

log = logging.getLogger(__name__)

DEMO_PRODUCER = "producer"
DEMO_SPONSOR = ("aurora", "aurora")  # (username, sponsor id of the demo show)
DEMO_WALLET_GRANT_MINOR = 1_000_000  # every demo viewer starts with 10,000.00 of the show's money
DEMO_BUDGET_MINOR = 100_000_000  # the show and each sponsor get 1,000,000.00 to fund drops


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
    except SettingsError as error:
        print(f"gala: {error}", file=sys.stderr)
        return 2
    # decided here, once, so every log line of the process and the node itself agree on it
    settings = settings.replace(node_id=settings.node_id or default_node_id())
    configure_logging(settings.log_level, settings.node_id or "", settings.log_format)
    try:
        return int(args.run(args, settings))
    except GalaError as error:
        print(f"gala: {error.code}: {error.message}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gala", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def node_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--store", help="sqlite:///PATH (default sqlite:///gala.db) or redis://HOST:PORT/DB"
        )
        sub.add_argument("--host", help="address to listen on (default 127.0.0.1)")
        sub.add_argument("--port", type=int, help="port (default 8080; 0 picks a free one)")
        sub.add_argument(
            "--show",
            action="append",
            dest="shows",
            metavar="FILE",
            help="show file to load (repeatable; default: the demo show)",
        )

    serve = commands.add_parser("serve", help="run a node")
    node_options(serve)
    serve.add_argument(
        "--allow-volatile-redis",
        action="store_true",
        help="start on a Redis without AOF, which forgets every paid order when it restarts "
        "(tests and benchmarks only; GALA_ALLOW_VOLATILE_REDIS=1)",
    )
    serve.set_defaults(run=_serve)

    demo = commands.add_parser("demo", help="create the demo producer and serve the demo gala")
    node_options(demo)
    demo.set_defaults(run=_demo)

    user = commands.add_parser("user", help="manage accounts")
    user_commands = user.add_subparsers(required=True, metavar="ACTION")
    add = user_commands.add_parser("add", help="create or update an account")
    add.add_argument("username")
    add.add_argument("--role", choices=ACCOUNT_ROLES, default=PRODUCER)
    add.add_argument("--sponsor", help="the sponsor id a sponsor account acts for (required)")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )
    add.add_argument("--store")
    add.set_defaults(run=_user_add)

    audit = commands.add_parser(
        "audit", help="check every money and stock invariant; exit 1 naming each difference"
    )
    audit.add_argument("--store")
    audit.set_defaults(run=_audit)

    budget = commands.add_parser("budget", help="drop budgets")
    budget_commands = budget.add_subparsers(required=True, metavar="ACTION")
    deposit = budget_commands.add_parser(
        "deposit", help="pay money into a budget (idempotent by --ref)"
    )
    deposit.add_argument("funder", help="sponsor:ID or show:ID")
    deposit.add_argument("amount_minor", type=int)
    deposit.add_argument("--ref", required=True, help="the payment's reference, e.g. an invoice")
    deposit.add_argument("--store")
    deposit.set_defaults(run=_budget_deposit)

    show = commands.add_parser("show", help="show files")
    show_commands = show.add_subparsers(required=True, metavar="ACTION")
    check = show_commands.add_parser("check", help="validate show files")
    check.add_argument("files", nargs="+")
    check.set_defaults(run=_show_check)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = settings_from_env(os.environ)
    changes: dict[str, object] = {}
    if getattr(args, "store", None):
        changes["store_url"] = check_store_url(args.store)
    if getattr(args, "host", None):
        changes["host"] = args.host
    if getattr(args, "port", None) is not None:
        changes["port"] = args.port
    if getattr(args, "shows", None):
        changes["show_files"] = tuple(args.shows)
    if getattr(args, "allow_volatile_redis", False):
        changes["allow_volatile_redis"] = True
    return settings.replace(**changes)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    check_port_free(settings.host, settings.port)
    asyncio.run(serve(settings))
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    # Before the demo accounts get new passwords: a demo already serving on the port keeps the
    # login it printed, and this one stops at one line instead of an OSError's traceback.
    check_port_free(settings.host, settings.port)
    password = secrets.token_urlsafe(9)
    asyncio.run(_put_account(settings.store_url, DEMO_PRODUCER, password, PRODUCER))
    asyncio.run(
        _put_account(settings.store_url, DEMO_SPONSOR[0], password, SPONSOR, DEMO_SPONSOR[1])
    )
    demo = settings.replace(
        demo_wallet_grant_minor=DEMO_WALLET_GRANT_MINOR,
        demo_budget_minor=DEMO_BUDGET_MINOR,
        payment_provider=settings.payment_provider or "sandbox",
    )
    asyncio.run(serve(demo, demo_login=(DEMO_PRODUCER, password)))
    return 0


def _user_add(args: argparse.Namespace, settings: Settings) -> int:
    if (args.role == SPONSOR) != (args.sponsor is not None) or (
        args.sponsor is not None and not is_valid_id(args.sponsor)
    ):
        print("gala: --sponsor ID (an id) goes with --role sponsor, and only", file=sys.stderr)
        return 2
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.username}: ")
    if len(password) < 8:
        print("gala: the password must have at least 8 characters", file=sys.stderr)
        return 2
    asyncio.run(_put_account(settings.store_url, args.username, password, args.role, args.sponsor))
    for_sponsor = f" for sponsor {args.sponsor}" if args.sponsor else ""
    print(f"account {args.username} ({args.role}{for_sponsor}) saved in {settings.store_url}")
    return 0


def _show_check(args: argparse.Namespace, settings: Settings) -> int:
    for path in args.files:
        show = load_show_file(path)
        print(
            f"{path}: ok: show {show.id!r}, {len(show.cues)} cues, "
            f"{len(show.product_cards)} products"
        )
    return 0


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    problems, summary = asyncio.run(_run_audit(settings.store_url))
    for problem in problems:
        print(f"DIFFERENCE {problem}")
    print(f"audit {'failed' if problems else 'clean'}: {summary}, {len(problems)} differences")
    return 1 if problems else 0


async def _run_audit(store_url: str) -> tuple[list[str], str]:
    store = await open_store(store_url)
    try:
        return await audit_store(store)
    finally:
        await store.close()


def _budget_deposit(args: argparse.Namespace, settings: Settings) -> int:
    kind, _, owner = args.funder.partition(":")
    kinds = {"sponsor": "sponsor_budget", "show": "show_budget"}
    if kind not in kinds or not is_valid_id(owner) or not is_valid_id(args.ref):
        print("gala: FUNDER is sponsor:ID or show:ID, and --ref an id", file=sys.stderr)
        return 2
    funder = ledger.account(kinds[kind], owner)
    balance = asyncio.run(_deposit(settings.store_url, funder, args.amount_minor, args.ref))
    print(f"{funder}: {balance} minor units")
    return 0


async def _deposit(store_url: str, funder: str, amount_minor: int, reference: str) -> int:
    store = await open_store(store_url)
    try:
        drops = DropService(
            store.drops, store.ledger, store.taps, SystemClock(), random.SystemRandom()
        )
        await drops.deposit(funder, amount_minor, reference)
        return await store.ledger.balance(funder)
    finally:
        await store.close()


async def _put_account(
    store_url: str, username: str, password: str, role: str, sponsor_id: str | None = None
) -> None:
    store = await open_store(store_url)
    try:
        await store.hub.put_account(Account(username, hash_password(password), role, sponsor_id))
    finally:
        await store.close()


def check_port_free(host: str, port: int) -> None:
    """Refuse with `port_in_use` when something listens on (host, port) already. Binds the way
    the server will (address reuse on, so a port in TIME_WAIT after a stopped node is free)."""
    if port == 0:
        return
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as error:
        raise GalaError(f"cannot listen on {host}:{port}: {error}", code="cannot_listen") from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                raise _cannot_listen(host, port, error) from None


def _cannot_listen(host: str, port: int, error: OSError) -> GalaError:
    if error.errno == errno.EADDRINUSE:
        return GalaError(
            f"port {port} on {host} is in use (a gala already running there?); "
            "stop it or pick another with --port",
            code="port_in_use",
        )
    return GalaError(f"cannot listen on {host}:{port}: {error.strerror}", code="cannot_listen")


SWITCH_INTERVAL_S = 0.0005
# after a drain, what the runner's cleanup may take: requests still open, the node's close
CLEANUP_S = 5


async def serve(settings: Settings, demo_login: tuple[str, str] | None = None) -> None:
    """Run a node until SIGINT or SIGTERM."""
    app = create_app(settings)
    runner = app_runner(app, handle_signals=False, shutdown_timeout=CLEANUP_S)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as error:  # taken since `check_port_free` looked
        await runner.cleanup()
        raise _cannot_listen(settings.host, settings.port, error) from None
    port = runner.addresses[0][1] if runner.addresses else settings.port
    base = f"http://{settings.host}:{port}"
    print(f"gala is serving on {base} (store {settings.store_url})", flush=True)
    print(f"  viewer page:   {base}/", flush=True)
    print(f"  stage console: {base}/console", flush=True)
    if demo_login is not None:
        print(f"  producer login: user {demo_login[0]!r}, password {demo_login[1]!r}", flush=True)
        print(
            f"  sponsor portal: {base}/sponsor, user {DEMO_SPONSOR[0]!r}, same password", flush=True
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    # Process-wide, so here and not in the app (tests run many apps). The store's thread (SQLite)
    # waits for the GIL after each blocking call; with the default 5 ms switch interval and the
    # event loop busy writing to 10,000 viewers, a GO's commit waited tens of milliseconds.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    heap = HeapPolicy()
    heap.start()
    tending = asyncio.create_task(supervise("heap policy", heap.run))
    try:
        await stop.wait()
        # Drain: take no new connections, tell the clients to come back (to whichever node
        # serves them next), answer what is in flight, flush, close every session; then the
        # runner's cleanup stops the node. Each step is bounded, so the process always exits.
        await site.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                app[appkeys.DRAIN](settings.drain_timeout_s), settings.drain_timeout_s + 1
            )
    finally:
        tending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tending
        heap.stop()
        try:
            await asyncio.wait_for(runner.cleanup(), settings.drain_timeout_s + CLEANUP_S)
        except TimeoutError:
            log.error("the node did not stop within %d s; exiting", settings.drain_timeout_s)


if __name__ == "__main__":
    raise SystemExit(main())
