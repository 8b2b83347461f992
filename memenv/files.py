"""File writes that never follow a symlink planted where a run writes (a run folder, a download's ``.part``).

``open_no_follow`` refuses to open through a symlink (``O_NOFOLLOW``); ``write_text_atomic`` writes a fresh
temporary file and renames it over the target, which replaces a symlink there instead of writing through it.
``read_yaml`` reads a config file with a one-line ``ValueError`` (file, line, column) for a syntax error.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import IO, Any

_MODES = {"a": os.O_WRONLY | os.O_CREAT | os.O_APPEND, "x": os.O_WRONLY | os.O_CREAT | os.O_EXCL}


def open_no_follow(path: str | os.PathLike[str], mode: str = "a", *, binary: bool = False) -> IO:
    """Open ``path`` for appending (``"a"``) or exclusive creation (``"x"``), refusing a symlink at ``path``
    (``OSError``, ELOOP or EEXIST)."""
    fd = os.open(path, _MODES[mode] | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o644)
    return os.fdopen(fd, mode + ("b" if binary else ""), **({} if binary else {"encoding": "utf-8"}))


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` through a new temporary file renamed over it (never through a symlink)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        with open_no_follow(tmp, "x") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def sha256_of(path: str | os.PathLike[str], block: int = 1 << 16) -> str:
    """The hex sha256 of a file, read in blocks (a data file is checked against the digest a protocol pins)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()


MAX_CONFIG_BYTES = 1 << 20
"""A config file (YAML / TOML / JSON) larger than this is refused: configs are hand-written and small."""


def load_yaml(text: str, source: str = "YAML") -> object:
    """``yaml.safe_load`` without anchors' aliases (``*name``): a few lines of nested aliases ("billion laughs")
    expand to billions of nodes and hang the reader, and no config of this project needs them. An alias is a
    ``ValueError`` naming ``source`` and the line; so is a text over :data:`MAX_CONFIG_BYTES`, and so is a syntax
    error (with its line and column).

    >>> load_yaml("a: [1, 2]")
    {'a': [1, 2]}
    >>> load_yaml("a: &x [1]\\nb: *x")
    Traceback (most recent call last):
    ...
    ValueError: YAML: line 2: the alias *x is refused (anchors and aliases are not supported; write the value out)
    """
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):  # noqa: ANN001, ANN202 - PyYAML's signature
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise ValueError(f"{source}: line {event.start_mark.line + 1}: the alias *{event.anchor} is refused "
                                 "(anchors and aliases are not supported; write the value out)")
            return super().compose_node(parent, index)

    if len(text) > MAX_CONFIG_BYTES:
        raise ValueError(f"{source}: {len(text)} characters; a config file holds at most {MAX_CONFIG_BYTES}")
    try:
        return yaml.load(text, Loader=NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:  # one line (file, line, column), not a multi-line traceback
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"{source}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """:func:`load_yaml` of the file at ``path`` (errors name the file)."""
    return load_yaml(Path(path).read_text(encoding="utf-8"), str(path))


def read_mapping(path: str | os.PathLike[str]) -> dict:
    """A ``.yaml``/``.yml`` (:func:`load_yaml`), ``.toml`` or ``.json`` config file's top-level mapping; anything
    else is a ``ValueError`` naming the file."""
    import json

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if len(text) > MAX_CONFIG_BYTES:
        raise ValueError(f"{path}: {len(text)} characters; a config file holds at most {MAX_CONFIG_BYTES}")
    if path.suffix in (".yaml", ".yml"):
        data = load_yaml(text, str(path)) or {}
    elif path.suffix == ".toml":
        data = tomllib.loads(text)
    elif path.suffix == ".json":
        data = json.loads(text)
    else:
        raise ValueError(f"{path}: unknown config format {path.suffix!r}; use .yaml, .toml or .json")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping, got {type(data).__name__}")
    return data
