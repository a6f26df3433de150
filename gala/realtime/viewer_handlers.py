"""The viewer namespace `/`: join a show (with an optional resume position), leave, time ping,
buy, wallet, grab a red envelope, report a product card displayed.

Each handler checks the role, parses its payload into a typed command (`commands.py`), calls one
service and returns the ack's data; the realtime facade authenticated the connection and turns
raised errors into acks. A producer may join and ping on `/` too, but not buy or grab.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from commerce.payments import PaymentService, payment_wire
from commerce.sale import SaleNotOpen
from commerce.service import PurchaseService, order_wire
from gala.auth.tokens import VIEWER, require_role
from gala.kernel.clock import Clock
from gala.kernel.errors import Conflict
from gala.realtime.answers import BUY, GRAB, Answers
from gala.realtime.commands import (
    BuyProduct,
    GrabEnvelope,
    JoinShow,
    PingClock,
    ReportDisplayed,
    ShowCommand,
    parse,
)
from gala.realtime.facade import VIEWER_NS, Connection, Realtime
from gala.realtime.show_channel import viewer_room
from gala.realtime.show_runtime import ShowRuntime
from gala.realtime.tap_limiter import TapLimiter
from gala.realtime.tap_pipeline import TapPipelines
from gala.results.report import ResultsRecorder
from gala.runofshow.registry import ShowRegistry
from redpackets.model import UnknownDrop
from redpackets.service import grab_wire


class NotRevealed(Conflict):
    code = "not_revealed"


class ViewerHandlers:
    def __init__(
        self,
        realtime: Realtime,
        shows: ShowRegistry,
        runtimes: Callable[[str], ShowRuntime],
        clock: Clock,
        purchases: PurchaseService,
        payments: PaymentService,
        taps: TapPipelines,
        limiter: TapLimiter,
        results: ResultsRecorder,
        answers: Answers,
    ) -> None:
        self._realtime = realtime
        self._shows = shows
        self._runtimes = runtimes
        self._clock = clock
        self._purchases = purchases
        self._payments = payments
        self._taps = taps
        self._limiter = limiter
        self._results = results
        self._answers = answers

    def register(self) -> None:
        """Taps are counted and timed (`answers.py`); every handler runs in its log context."""
        on, answers = self._realtime.handle, self._answers
        on(VIEWER_NS, "join", answers.logged(self.join))
        on(VIEWER_NS, "leave", answers.logged(self.leave))
        on(VIEWER_NS, "time", self.time)
        on(VIEWER_NS, "buy", answers.tap(BUY, self.buy))
        on(VIEWER_NS, "wallet", answers.logged(self.wallet))
        on(VIEWER_NS, "grab", answers.tap(GRAB, self.grab))
        on(VIEWER_NS, "displayed", answers.logged(self.displayed))

    async def join(self, conn: Connection, payload: Any) -> dict[str, Any]:
        command = parse(JoinShow, payload)
        show = self._shows.get(command.show_id)
        runtime = self._runtimes(show.id)
        await runtime.channel.ready.wait()
        await self._realtime.join(conn, viewer_room(show.id))
        return {
            "show": show.public_info(),
            "viewer_id": conn.identity.subject,
            **runtime.channel.catch_up(command.resume),
        }

    async def leave(self, conn: Connection, payload: Any) -> dict[str, Any]:
        show = self._shows.get(parse(ShowCommand, payload).show_id)
        await self._realtime.leave(conn, viewer_room(show.id))
        return {}

    async def time(self, conn: Connection, payload: Any) -> dict[str, Any]:
        """NTP-style ping: the client sends its send time t0 and computes the offset as
        server_ms - (t0 + t3) / 2 from the time t3 it received the ack."""
        return {"t0": parse(PingClock, payload).t0, "server_ms": self._clock.now_ms()}

    async def buy(self, conn: Connection, payload: Any) -> dict[str, Any]:
        """Buy the product from the wallet in one tap, or hold it for the payment provider
        (docs/protocol.md, `buy`)."""
        viewer = require_role(conn.identity, VIEWER)
        command = parse(BuyProduct, payload)
        show = self._shows.get(command.show_id)
        runtime = self._runtimes(show.id)
        await runtime.channel.ready.wait()
        await runtime.ready_for_taps()
        sale = runtime.channel.snapshot.sales.sales.get(command.product_id)
        if sale is None:
            raise SaleNotOpen("this product is not on sale")
        self._results.tapped(show.id, sale.sale_id, viewer.subject)
        if command.through_provider:
            held = await self._payments.buy(sale, viewer.subject, command.key, command.quantity)
            return {
                "order": order_wire(held.order),
                "payment": None if held.payment is None else payment_wire(held.payment),
                "balance_minor": held.balance_minor,
                "currency": show.currency,
            }
        purchase = await self._taps.buy(sale, viewer.subject, command.key, command.quantity)
        return {
            "order": order_wire(purchase.order),
            "balance_minor": purchase.balance_minor,
            "currency": show.currency,
        }

    async def wallet(self, conn: Connection, payload: Any) -> dict[str, Any]:
        viewer = require_role(conn.identity, VIEWER)
        command = parse(ShowCommand, payload)
        show = self._shows.get(command.show_id)
        runtime = self._runtimes(show.id)
        await runtime.channel.ready.wait()
        return {
            "currency": show.currency,
            **await self._purchases.wallet(viewer.subject, runtime.sale_products()),
        }

    async def grab(self, conn: Connection, payload: Any) -> dict[str, Any]:
        """Grab an envelope of a drop (docs/protocol.md, `grab`)."""
        viewer = require_role(conn.identity, VIEWER)
        command = parse(GrabEnvelope, payload)
        show = self._shows.get(command.show_id)
        self._limiter.check(viewer.subject)
        runtime = self._runtimes(show.id)
        await runtime.channel.ready.wait()
        await runtime.ready_for_taps()
        drop = runtime.channel.snapshot.drops.drops.get(command.drop_id)
        if drop is None:
            raise UnknownDrop("no such drop in this show")
        grabbed = await self._taps.grab(drop.terms, viewer.subject)
        return grab_wire(grabbed, show.currency)

    async def displayed(self, conn: Connection, payload: Any) -> dict[str, Any]:
        """The page shows a product card: count this viewer for the product's latest reveal
        (docs/protocol.md, `displayed`)."""
        viewer = require_role(conn.identity, VIEWER)
        command = parse(ReportDisplayed, payload)
        show = self._shows.get(command.show_id)
        runtime = self._runtimes(show.id)
        await runtime.channel.ready.wait()
        reveal = runtime.channel.reveals.get(command.product_id)
        if reveal is None:
            raise NotRevealed("this product has not been revealed")
        self._results.displayed(show.id, reveal[0], reveal[1], viewer.subject)
        return {}
