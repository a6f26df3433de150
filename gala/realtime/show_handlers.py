"""Socket message handlers: parse the payload, check the role, call a service, return the ack data.

Viewer namespace `/`: join a show (with an optional resume position), leave, time ping, buy,
wallet, grab a red envelope.
Producer namespace `/producer`: join a show's console, GO, standby (jump), back, panic, end,
reset, audit, launch a drop. The realtime facade authenticated the connection and turns raised
errors into acks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from commerce.payments import PaymentService, payment_wire
from commerce.sale import SaleNotOpen
from commerce.service import PROVIDER, WALLET, PurchaseService, order_wire
from gala.auth.tokens import VIEWER, require_role
from gala.kernel.clock import Clock
from gala.kernel.errors import Conflict
from gala.realtime.facade import PRODUCER_NS, VIEWER_NS, Connection, Realtime
from gala.realtime.protocol import BadField, int_field, payload_dict, required_id, resume_field
from gala.realtime.show_channel import viewer_room
from gala.realtime.show_runtime import ShowRuntime, console_room
from gala.realtime.tap_limiter import TapLimiter
from gala.results.report import ResultsRecorder
from gala.runofshow.registry import ShowRegistry
from redpackets import show_drops
from redpackets.model import UnknownDrop
from redpackets.service import DropService, grab_wire
from stage_control.service import StageService

LAUNCH_FOLD_WAIT_S = 5.0


class NotRevealed(Conflict):
    code = "not_revealed"


class SocketHandlers:
    def __init__(
        self,
        realtime: Realtime,
        shows: ShowRegistry,
        runtimes: Callable[[str], ShowRuntime],
        stage: StageService,
        clock: Clock,
        purchases: PurchaseService,
        payments: PaymentService,
        drops: DropService,
        limiter: TapLimiter,
        results: ResultsRecorder,
    ) -> None:
        self._realtime = realtime
        self._shows = shows
        self._runtimes = runtimes
        self._stage = stage
        self._clock = clock
        self._purchases = purchases
        self._payments = payments
        self._drops = drops
        self._limiter = limiter
        self._results = results

    def register(self) -> None:
        on = self._realtime.handle
        on(VIEWER_NS, "join", self.join)
        on(VIEWER_NS, "leave", self.leave)
        on(VIEWER_NS, "time", self.time)
        on(VIEWER_NS, "buy", self.buy)
        on(VIEWER_NS, "wallet", self.wallet)
        on(VIEWER_NS, "grab", self.grab)
        on(VIEWER_NS, "displayed", self.displayed)
        on(PRODUCER_NS, "time", self.time)
        on(PRODUCER_NS, "console:join", self.console_join)
        on(PRODUCER_NS, "go", self.go)
        on(PRODUCER_NS, "standby", self.standby)
        on(PRODUCER_NS, "back", self.back)
        on(PRODUCER_NS, "panic", self.panic)
        on(PRODUCER_NS, "end", self.end)
        on(PRODUCER_NS, "reset", self.reset)
        on(PRODUCER_NS, "audit", self.audit)
        on(PRODUCER_NS, "drop:launch", self.launch_drop)
        on(PRODUCER_NS, "auto", self.auto)
        on(PRODUCER_NS, "cue:edit", self.edit_cue)

    # --- viewers ---------------------------------------------------------------------------

    async def join(self, conn: Connection, payload: Any) -> dict[str, Any]:
        body = payload_dict(payload)
        show = self._shows.get(required_id(body, "show_id"))
        resume = resume_field(body)
        runtime = self._runtimes(show.id)
        await runtime.channel.ready.wait()
        await self._realtime.join(conn, viewer_room(show.id))
        return {
            "show": show.public_info(),
            "viewer_id": conn.identity.subject,
            **runtime.channel.catch_up(resume),
        }

    async def leave(self, conn: Connection, payload: Any) -> dict[str, Any]:
        show = self._shows.get(required_id(payload_dict(payload), "show_id"))
        await self._realtime.leave(conn, viewer_room(show.id))
        return {}

    async def time(self, conn: Connection, payload: Any) -> dict[str, Any]:
        """NTP-style ping: the client sends its send time t0 and computes the offset as
        server_ms - (t0 + t3) / 2 from the time t3 it received the ack."""
        client_ms = int_field(payload_dict(payload), "t0", 0, 2**53)
        return {"t0": client_ms, "server_ms": self._clock.now_ms()}

    async def buy(self, conn: Connection, payload: Any) -> dict[str, Any]:
        """Buy the product from the wallet in one tap, or hold it for the payment provider
        (docs/protocol.md, `buy`)."""
        body = payload_dict(payload)
        viewer = require_role(conn.identity, VIEWER)
        method = body.get("payment", WALLET)
        if method not in (WALLET, PROVIDER):
            raise BadField('payment must be "wallet" or "provider"')
        show = self._shows.get(required_id(body, "show_id"))
        product_id = required_id(body, "product_id")
        runtime = self._runtimes(show.id)
        await runtime.channel.ready.wait()
        sale = runtime.channel.snapshot.sales.sales.get(product_id)
        if sale is None:
            raise SaleNotOpen("this product is not on sale")
        self._results.tapped(show.id, sale["sale_id"], viewer.subject)
        if method == PROVIDER:
            held = await self._payments.buy(
                sale, viewer.subject, body.get("key"), body.get("quantity")
            )
            return {
                "order": order_wire(held.order),
                "payment": None if held.payment is None else payment_wire(held.payment),
                "balance_minor": held.balance_minor,
                "currency": show.currency,
            }
        purchase = await self._purchases.buy(
            sale, viewer.subject, body.get("key"), body.get("quantity")
        )
        return {
            "order": order_wire(purchase.order),
            "balance_minor": purchase.balance_minor,
            "currency": show.currency,
        }

    async def wallet(self, conn: Connection, payload: Any) -> dict[str, Any]:
        viewer = require_role(conn.identity, VIEWER)
        show = self._shows.get(required_id(payload_dict(payload), "show_id"))
        runtime = self._runtimes(show.id)
        await runtime.channel.ready.wait()
        return {
            "currency": show.currency,
            **await self._purchases.wallet(viewer.subject, runtime.sale_ids()),
        }

    async def grab(self, conn: Connection, payload: Any) -> dict[str, Any]:
        """Grab an envelope of a drop (docs/protocol.md, `grab`)."""
        body = payload_dict(payload)
        viewer = require_role(conn.identity, VIEWER)
        show = self._shows.get(required_id(body, "show_id"))
        drop_id = required_id(body, "drop_id")
        self._limiter.check(viewer.subject)
        runtime = self._runtimes(show.id)
        await runtime.channel.ready.wait()
        drop = runtime.channel.snapshot.drops.drops.get(drop_id)
        if drop is None:
            raise UnknownDrop("no such drop in this show")
        grabbed = await self._drops.grab(show_drops.terms_of(show.id, drop), viewer.subject)
        return grab_wire(grabbed, show.currency)

    async def displayed(self, conn: Connection, payload: Any) -> dict[str, Any]:
        """The page shows a product card: count this viewer for the product's latest reveal
        (docs/protocol.md, `displayed`)."""
        body = payload_dict(payload)
        viewer = require_role(conn.identity, VIEWER)
        show = self._shows.get(required_id(body, "show_id"))
        product_id = required_id(body, "product_id")
        runtime = self._runtimes(show.id)
        await runtime.channel.ready.wait()
        reveal = runtime.channel.reveals.get(product_id)
        if reveal is None:
            raise NotRevealed("this product has not been revealed")
        self._results.displayed(show.id, reveal[0], reveal[1], viewer.subject)
        return {}

    # --- producers ---------------------------------------------------------------------------

    def _show_id(self, payload: Any) -> str:
        return self._shows.get(required_id(payload_dict(payload), "show_id")).id

    async def console_join(self, conn: Connection, payload: Any) -> dict[str, Any]:
        show = self._shows.get(self._show_id(payload))
        runtime = self._runtimes(show.id)
        await self._realtime.join(conn, console_room(show.id))
        return {
            "show": show.public_info(),
            "cues": show.cue_list(),
            **await runtime.console_state(),
            "presence": await runtime.presence_totals(),
        }

    async def go(self, conn: Connection, payload: Any) -> dict[str, Any]:
        body = payload_dict(payload)
        show_id = self._show_id(body)
        if "standby_cue_id" not in body:
            raise BadField("standby_cue_id is required: the cue the console shows on standby")
        expected = body["standby_cue_id"]
        if expected is not None:
            expected = required_id(body, "standby_cue_id")
        await self._check_drop_funds(show_id)
        state = await self._stage.go(show_id, conn.identity.subject, expected)
        return state.as_wire()

    async def standby(self, conn: Connection, payload: Any) -> dict[str, Any]:
        body = payload_dict(payload)
        state = await self._stage.set_standby(
            self._show_id(body), conn.identity.subject, required_id(body, "cue_id")
        )
        return state.as_wire()

    async def back(self, conn: Connection, payload: Any) -> dict[str, Any]:
        return (await self._stage.back(self._show_id(payload), conn.identity.subject)).as_wire()

    async def panic(self, conn: Connection, payload: Any) -> dict[str, Any]:
        return (await self._stage.panic(self._show_id(payload), conn.identity.subject)).as_wire()

    async def end(self, conn: Connection, payload: Any) -> dict[str, Any]:
        return (await self._stage.end_show(self._show_id(payload), conn.identity.subject)).as_wire()

    async def reset(self, conn: Connection, payload: Any) -> dict[str, Any]:
        return (await self._stage.reset(self._show_id(payload), conn.identity.subject)).as_wire()

    async def audit(self, conn: Connection, payload: Any) -> dict[str, Any]:
        body = payload_dict(payload)
        show_id = self._show_id(body)
        limit = int_field(body, "limit", 1, 1000, default=200)
        return {"entries": await self._runtimes(show_id).audit(limit)}

    async def auto(self, conn: Connection, payload: Any) -> dict[str, Any]:
        """Arm or disarm automatic mode: booked time-of-day cues fire at their time."""
        body = payload_dict(payload)
        show_id = self._show_id(body)
        armed = body.get("armed")
        if not isinstance(armed, bool):
            raise BadField("armed must be true or false")
        state = await self._runtimes(show_id).arm_clock(conn.identity.subject, armed)
        return state.as_wire()

    async def edit_cue(self, conn: Connection, payload: Any) -> dict[str, Any]:
        """Add, remove, move or edit a cue of the run of show (docs/protocol.md, `cue:edit`)."""
        body = payload_dict(payload)
        show_id = self._show_id(body)
        return await self._runtimes(show_id).edit_run_of_show(conn.identity.subject, body)

    async def _check_drop_funds(self, show_id: str) -> None:
        """Refuse a GO whose cue would launch a drop its funder cannot cover (a timer-fired
        cue is not checked: its drop is cancelled at launch instead)."""
        state = await self._stage.state(show_id)
        cue = self._shows.get(show_id).cue(state.standby_cue_id) if state.standby_cue_id else None
        needed: dict[str, int] = {}
        for action in cue.actions if cue is not None else ():
            if isinstance(action, show_drops.LaunchDrop):
                funder = show_drops.funder_account(show_id, action.funder)
                needed[funder] = needed.get(funder, 0) + action.budget_minor
        await self._drops.check_funds(needed)

    async def launch_drop(self, conn: Connection, payload: Any) -> dict[str, Any]:
        """Launch a drop from the console (docs/protocol.md, `drop:launch`): fund it first,
        then announce it on the log. A retry with the same key returns the same drop."""
        body = payload_dict(payload)
        show = self._shows.get(self._show_id(body))
        key = required_id(body, "key")
        launch = show_drops.parse_launch(body, frozenset(show.sponsors))
        runtime = self._runtimes(show.id)
        await runtime.channel.ready.wait()
        drop_id = show_drops.drop_id_for(show.id, "console", key)
        announced = runtime.channel.snapshot.drops.drops.get(drop_id)
        if announced is not None:
            return {"drop": dict(announced)}
        [event] = show_drops.events_for(
            show.id, show.currency, launch, self._clock.now_ms(), drop_id=drop_id
        )
        await self._drops.launch(show_drops.terms_of(show.id, event.data))
        [logged] = await self._stage.publish(
            show.id, conn.identity.subject, "drop", [event], {"drop_id": drop_id}
        )
        # A retry of this key (after a lost ack) must find the drop in the snapshot.
        await runtime.channel.wait_until_folded(logged, LAUNCH_FOLD_WAIT_S)
        return {"drop": dict(event.data)}
