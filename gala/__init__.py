"""gala: the realtime hub of a live-broadcast "see now, buy now" gala.

The hub wires the features (stage control, overlays, ...) to the outside world: settings, the app
factory, auth and roles, the socket.io facade, the show event log fan-out, HTTP API and pages, and
the CLI. Start reading at `app.py` (`create_app`) and `docs/architecture.md`.
"""
