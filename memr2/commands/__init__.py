"""One module per ``memr2`` sub-command; each defines ``register(subparsers)``."""

from __future__ import annotations

import json
from typing import Any


def json_object(text: str, flag: str) -> dict[str, Any]:
    """Parse a flag's JSON-object value, with an error that names the flag."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{flag} must be a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{flag} must be a JSON object, got {text!r}")
    return value
