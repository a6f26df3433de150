"""The run of show as the hub sees it: show files, the registry of installed shows, booked
reveals turned into cues, producers' edits, what each cue does to the features, and the
snapshot fold of the show log."""
