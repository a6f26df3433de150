"""The realtime edge: the socket.io facade (the only importer of socketio), the lean engine.io
session and the broadcast fast path, the wire protocol, the socket handlers per namespace, and
each show's live loops (the show channel that tails and fans out its log, the stage watcher,
presence)."""
