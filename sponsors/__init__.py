"""Sponsors: products owned by a sponsor, reveal bookings into slots of a show, and their
approval by producers. Same shape as the other features: pure rules in `model.py`, ports, a
service, one adapter per store backend."""
