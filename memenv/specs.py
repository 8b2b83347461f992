"""``package.module:attr`` specs (scorers, answerers, agents), checked to be the expected kind before any call.

Importing a module runs its code, so a spec is trusted like code (see ``docs/reliability.md``). What this check
stops is a spec that names something of the wrong kind -- ``os:system`` as a scorer, with its "arguments"
coming from a config file -- being called with config values.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any


def resolve_spec(target: str, *, method: str, what: str, factories: bool = True) -> Any:
    """Import ``target`` (``package.module:attr``) and return it if it is a class with a callable ``method`` or,
    with ``factories``, a function written in Python (not a builtin such as ``os.system``); raise ValueError
    saying what was wrong otherwise."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected 'package.module:{what}', got {target!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r} for {target!r}: {exc}") from exc
    try:
        found = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attr!r}") from None
    if inspect.isclass(found) and callable(getattr(found, method, None)):
        return found
    if factories and inspect.isfunction(found):
        return found
    expected = f"a class with a {method}() method" + (" or a Python factory function" if factories else "")
    raise ValueError(f"{target!r} is not usable as the {what}: expected {expected}, got {type(found).__name__}")
