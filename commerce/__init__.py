"""Commerce: instant purchases and the wallet ledger (issue "See now, buy now").

- `ledger.py` and `sale.py`: the pure rules (a double-entry ledger; a flash sale's stock, holds,
  limits, idempotency keys and expiry); `show_sales.py`: sales on the show log;
- `service.py`: a tap on Buy paid from the wallet (or held for the provider), the wallet, the
  sweeper step; `payments.py`, `webhooks.py`, `sandbox_provider.py`: payments through an outside
  provider and its signed webhook; `figures.py`: live figures; `audit.py`: `gala audit`;
- `ports.py`, with `SaleStore`, `LedgerStore` and `PaymentStore` on both backends
  (`sqlite_*.py`, `redis_*.py`, `lua/`), contract-tested.
"""
