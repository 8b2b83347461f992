"""Load user-named objects -- ``package.module:attr`` or ``path/to/file.py:attr`` -- with errors that say what to fix.

One loader for every place that takes a third-party object by name: agents (``memr2 eval --agent``), scorers
(``scorer="pkg.mod:Class"``) and the LLM scorer's answerer and judge. It imports nothing heavy (memenv must stay
importable without torch).

* ``package.module:attr`` is imported as Python would, and, when the top-level module is not installed, from the
  current working directory too -- so ``memr2 eval --agent my_agent:make_agent`` finds ``./my_agent.py`` exactly
  as ``python -m`` would, although console scripts do not put the working directory on ``sys.path``. The
  directory is searched after the installed packages, so a local file never shadows an installed module.
* ``path/to/file.py:attr`` (any target whose module part ends in ``.py``) loads that file as a module named after
  it; its folder goes on ``sys.path`` so that the file can import its neighbours.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


class LoadError(ValueError):
    """A ``module:attr`` target cannot be resolved; the message names the target and what was wrong."""


def split_target(target: str, what: str = "factory") -> tuple[str, str]:
    """``(module or file, attribute)`` of ``target``; ``what`` names the attribute in the error.

    >>> split_target("my_agent:make_agent")
    ('my_agent', 'make_agent')
    >>> split_target("agents/custom.py:Agent")
    ('agents/custom.py', 'Agent')
    """
    # rpartition: a Windows drive letter ("C:\\x.py:f") keeps its colon in the path part
    module, sep, attr = target.rpartition(":")
    if not sep or not module or not attr.isidentifier():
        raise LoadError(f"expected 'package.module:{what}' or 'path/to/file.py:{what}', got {target!r}")
    return module, attr


def _import_from_file(path_text: str) -> ModuleType:
    path = Path(path_text).expanduser().resolve()
    if not path.is_file():
        raise LoadError(f"no such file: {path_text!r} (resolved to {path})")
    name = path.stem
    loaded = sys.modules.get(name)
    if loaded is not None:
        if Path(getattr(loaded, "__file__", "") or "").resolve() == path:
            return loaded
        raise LoadError(f"cannot load {path_text!r} as module {name!r}: a different module {name!r} is already "
                        f"imported ({getattr(loaded, '__file__', 'built-in')}); rename the file")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"cannot load {path_text!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))
    sys.modules[name] = module  # as `import` does, so pickling and dataclasses can find the module
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        del sys.modules[name]
        raise LoadError(f"importing {path_text!r} failed: {exc}") from exc
    except SyntaxError as exc:
        del sys.modules[name]
        raise LoadError(syntax_message(path_text, exc)) from None
    except BaseException:
        del sys.modules[name]
        raise
    return module


def syntax_message(target: str, exc: SyntaxError) -> str:
    """One line for a syntax error in a user's module: file, line and what Python says."""
    where = f"{exc.filename or target}, line {exc.lineno}" if exc.lineno else (exc.filename or target)
    return f"{target!r} has a syntax error ({where}): {exc.msg}"


def _import_module(name: str) -> ModuleType:
    top = name.partition(".")[0]
    try:
        return importlib.import_module(name)
    except SyntaxError as exc:
        raise LoadError(syntax_message(name, exc)) from None
    except ModuleNotFoundError as exc:
        if exc.name not in (top, name) and not name.startswith(f"{exc.name}."):
            raise LoadError(f"importing {name!r} failed: {exc}") from exc  # the module's own imports are missing
        cwd = os.getcwd()
        if cwd in sys.path or "" in sys.path:
            raise LoadError(f"cannot import {name!r}: {exc} (searched the installed packages and {cwd})") from None
    sys.path.append(cwd)
    try:
        return importlib.import_module(name)
    except SyntaxError as exc:
        raise LoadError(syntax_message(name, exc)) from None
    except ModuleNotFoundError as exc:
        sys.path.remove(cwd)
        if exc.name in (top, name) or name.startswith(f"{exc.name}."):
            raise LoadError(
                f"cannot import {name!r}: {exc} (searched the installed packages and the current directory {cwd}; "
                "for a file elsewhere use 'path/to/file.py:attr')"
            ) from None
        raise LoadError(f"importing {name!r} failed: {exc}") from exc
    except ImportError as exc:
        raise LoadError(f"importing {name!r} failed: {exc}") from exc


def load_object(target: str, what: str = "factory") -> Any:
    """The object named by ``package.module:attr`` or ``path/to/file.py:attr`` (see the module docstring).

    Raises :class:`LoadError` (a ``ValueError``) for a malformed target, a module or file that cannot be found,
    a missing import inside the module, or a missing attribute (with the closest names the module defines).
    Other exceptions raised while the module runs (its own bugs) propagate unchanged.

    >>> load_object("memenv.bank:MemoryBank").__name__
    'MemoryBank'
    >>> load_object("memenv.bank:MemoryBnk")
    Traceback (most recent call last):
    ...
    memenv.objects.LoadError: 'memenv.bank' has no attribute 'MemoryBnk'; did you mean 'MemoryBank'?
    """
    module_part, attr = split_target(target, what)
    if module_part.endswith(".py"):
        module = _import_from_file(module_part)
    else:
        module = _import_module(module_part)
    try:
        return getattr(module, attr)
    except AttributeError:
        names = [n for n in vars(module) if not n.startswith("_")]
        close = difflib.get_close_matches(attr, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; it defines {sorted(names)[:12]}"
        raise LoadError(f"{module_part!r} has no attribute {attr!r}{hint}") from None


def keyword_names(obj: Any) -> set[str] | None:
    """The keyword arguments a callable accepts, or None when it takes ``**kwargs`` it does not pass on.

    For a class, ``__init__`` methods are followed up the MRO while they forward ``**kwargs`` to ``super()``
    (as every memenv env does), so ``SyntheticEnv`` accepts its own arguments and ``MemoryEnv``'s.

    >>> from memenv.envs.conversations import ConversationsEnv
    >>> {"conversation", "max_sessions", "reward_mode"} <= keyword_names(ConversationsEnv)
    True
    """
    owners = [k for k in obj.__mro__ if "__init__" in vars(k)] if isinstance(obj, type) else [obj]
    names: set[str] = set()
    for owner in owners:
        function = owner.__init__ if isinstance(obj, type) else owner
        if owner is object:
            return names
        try:
            parameters = inspect.signature(function).parameters.values()
        except (TypeError, ValueError):  # a builtin without a signature: cannot tell
            return None
        names |= {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"self"}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return names
    return None


def check_keywords(obj: Any, kwargs: dict[str, Any], owner: str) -> None:
    """Raise ``ValueError`` naming each keyword of ``kwargs`` that ``obj`` does not accept (``owner`` names ``obj``
    in the message), with the closest accepted name; do nothing when ``obj`` takes arbitrary ``**kwargs``."""
    accepted = keyword_names(obj)
    unknown = sorted(set(kwargs) - accepted) if accepted is not None else []
    if not unknown:
        return
    close = difflib.get_close_matches(unknown[0], accepted, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(sorted(accepted)) or "none"
    raise ValueError(f"{owner} has no argument {', '.join(map(repr, unknown))}{hint} (it accepts: {listed})")


def standard_library_origin(module_part: str, found: Any) -> str | None:
    """The standard-library module that ``module_part`` (a spec's module, not a file path) or ``found`` (via its
    ``__module__``) belongs to, or None: ``subprocess:run`` and ``shutil:rmtree`` are Python functions, so only
    their origin tells them from a factory.

    >>> import shutil
    >>> standard_library_origin("shutil", shutil.rmtree), standard_library_origin("memenv.bank", None)
    ('shutil', None)
    """
    names = [getattr(found, "__module__", None) or ""]
    if not module_part.endswith(".py"):
        names.append(module_part)
    return next((top for name in names if (top := name.partition(".")[0]) in sys.stdlib_module_names), None)


def resolve_spec(target: str, *, method: str, what: str, factories: bool = True) -> Any:
    """:func:`load_object`, then a check of what was found *before anything calls it*: a class with a callable
    ``method`` or, with ``factories``, a function written in Python (never a builtin such as ``os.system``, whose
    "arguments" would come from a config file), and nothing defined in the standard library
    (:func:`standard_library_origin`: ``subprocess:run``, ``shutil:rmtree``). Importing a module runs its code, so
    a spec is trusted like code (docs/reliability.md); this stops a spec that names something of the wrong kind.

    >>> resolve_spec("memenv.scoring.rule:RuleScorer", method="score", what="scorer").__name__
    'RuleScorer'
    >>> resolve_spec("os:system", method="score", what="scorer")
    Traceback (most recent call last):
    ...
    ValueError: 'os:system' is not usable as the scorer: expected a class with a score() method or a Python factory function, got builtin_function_or_method
    """
    module_part, _ = split_target(target, what)
    found = load_object(target, what)
    if not ((inspect.isclass(found) and callable(getattr(found, method, None))) or (factories and inspect.isfunction(found))):
        expected = f"a class with a {method}() method" + (" or a Python factory function" if factories else "")
        raise ValueError(f"{target!r} is not usable as the {what}: expected {expected}, got {type(found).__name__}")
    stdlib = standard_library_origin(module_part, found)
    if stdlib:
        raise ValueError(f"{target!r} is not usable as the {what}: it comes from the standard library module "
                         f"{stdlib!r}, which has no {what}s (and running its functions from a spec would let a "
                         "config file run commands or delete files); name your own class or factory")
    return found
