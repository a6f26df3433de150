"""Stage control: the run of show and the cue engine the producer drives from the stage console.

`model.py` is the pure cue engine (GO, standby/jump, back, panic, end, reset, pre-wait and
auto-follow timers); `ports.py` says what it needs from a store and from the features a cue
drives; `service.py` runs the use cases (load, decide, commit, retry on a lost race); the
`*_store.py` modules are the SQLite and Redis adapters.
"""
