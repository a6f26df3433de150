"""Store backends of the hub: the SQLite database runner and the Redis connection, and the hub's
own adapters (show log reading and tailing, show definitions, accounts, secrets, presence).

`open_store(url)` in `factory.py` picks the backend from a store URL and builds every adapter.
"""
