"""The shared kernel: small, pure building blocks every feature may import.

It owns the base error type with stable codes, the clock protocol, identifiers, money and the
shape of show-log events. Nothing here does I/O, and nothing here imports the rest of `gala`.
"""
