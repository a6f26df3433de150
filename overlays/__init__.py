"""Overlays: what is drawn over the broadcast picture on each viewer's screen.

`model.py` holds the rules (cue actions in, public show-log events out, and the fold of those
events into the screen a viewer sees). Overlays keep no state of their own: the show log is it.
"""
