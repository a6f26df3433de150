"""Commerce: instant purchases and the wallet ledger (issue "See now, buy now").

Built so far:
- `ledger.py` and `sale.py`: the pure rules (a double-entry ledger; a flash sale's stock, holds,
  limits, idempotency keys and expiry);
- `ports.py`, with `SaleStore` and `LedgerStore` on both backends (`sqlite_store.py`,
  `sqlite_ledger.py`, `redis_store.py`, `redis_ledger.py`, `lua/`), contract-tested.

Not built yet: the purchase service and its saga (reserve, pay from the wallet, credit the
merchant), the sweeper loop, the payment provider and webhook, live figures, the socket messages
and pages, the CSV export and `gala audit`.
"""
