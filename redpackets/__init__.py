"""Red-envelope cash drops (issue "Red-envelope cash drops"): not built yet.

This package will hold the split, grab and close rules (`model.py`), their ports and service, and
the SQLite and Redis adapters, in the same shape as `stage_control`.
"""
