"""Commerce: instant purchases and the wallet ledger (issue "See now, buy now").

Built so far: the pure rules. `ledger.py` is the double-entry ledger (integer minor units,
immutable transfers with deterministic ids, no wallet or escrow below zero); `sale.py` is a flash
sale's stock, holds, per-viewer limits, idempotency keys and expiry. Not built yet: ports, the
service and the SQLite/Redis adapters, the purchase saga across hash slots, the payment provider
and webhook, live figures, pages and `gala audit`.
"""
