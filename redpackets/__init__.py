"""Red-envelope cash drops: a drop funded into escrow, split into envelopes, grabbed once per
viewer, its leftover returned to the funder once.

`model.py` holds the pure rules (the split, grabbing, closing); `show_drops.py` the `drop.launch`
cue action, its `drop.announced` event and fold; `service.py` the use cases (launch, grab with its
wallet credit, the sweeper step, budget deposits); `figures.py` the live figures; `audit.py` the
drop part of `gala audit`; `ports.py` the `DropStore` port, with one adapter per backend
(`sqlite_store.py`, `redis_store.py` with `lua/`), contract-tested. docs/redpackets.md has the
details.
"""
