"""The fan-out benchmark's baseline: a plain python-socketio server as shipped, doing the same job
as gala's fan-out (viewers connect with a token, join a show's room, receive each event) with
`sio.emit(..., room=...)`. `POST /fire` with an event body broadcasts it. Loopback only.

    python -m bench.baseline_server PORT
"""

from __future__ import annotations

import sys
from typing import Any

import socketio
from aiohttp import web


def build() -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    sio.attach(app)

    @sio.event
    async def connect(sid: str, environ: Any, auth: Any = None) -> bool:
        return isinstance(auth, dict) and isinstance(auth.get("token"), str)

    @sio.event
    async def join(sid: str, payload: Any) -> dict[str, Any]:
        await sio.enter_room(sid, f"show:{payload['show_id']}")
        return {"ok": True, "data": {"mode": "snapshot"}}

    async def fire(request: web.Request) -> web.Response:
        body = await request.json()
        await sio.emit("event", body["event"], room=f"show:{body['show_id']}")
        return web.json_response({"ok": True})

    app.router.add_post("/fire", fire)
    return app


if __name__ == "__main__":
    port = int(sys.argv[1])
    print(f"baseline serving on http://127.0.0.1:{port}", flush=True)
    web.run_app(build(), host="127.0.0.1", port=port, print=None, access_log=None)
