"""One module per ``memr2`` sub-command; each defines ``register(subparsers)``."""
