"""Commerce: instant purchases, payments through an outside provider, and the stores of the
wallet ledger.

- `sale.py`: the pure rules of a flash sale (stock, holds, limits, idempotency keys, expiry);
  `show_sales.py`: sales on the show log. The double-entry ledger's pure rules are shared with
  red envelopes, so they live in the kernel (`gala/kernel/ledger.py`);
- `service.py`: a tap on Buy paid from the wallet (or held for the provider), the wallet, the
  sweeper step; `payments.py`, `webhooks.py`, `sandbox_provider.py`: payments through an outside
  provider and its signed webhook; `figures.py`: live figures; `audit.py`: the sales part of
  `gala audit`;
- `ports.py`, with `SaleStore`, `LedgerStore` and `PaymentStore` on both backends
  (`sqlite_*.py`, `redis_*.py`, `lua/`), contract-tested.
"""
