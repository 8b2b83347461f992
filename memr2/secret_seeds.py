"""Secret test seeds: a protocol's episodes drawn from a secret the maintainer holds (``memr2 eval
--seed-secret-file PATH``), with a commitment in the result and a check once the secret is revealed
(``memr2 verify-reveal``; docs/reliability.md, "The untrusted-agent mode").

The protocol's key is ``HMAC-SHA256(secret, protocol name)``. Episode ``i`` gets the seed
``int(HMAC-SHA256(key, "seed <i>")[:8]) >> 1`` (63 bits); a protocol over a conversation list (LoCoMo) plays its
conversations in the order of ``HMAC-SHA256(key, "order <conversation id>")``. The result records
``seed_commitment = sha256(secret)``. Anyone holding the revealed secret recomputes both and checks them against the
result (:func:`reveal_problems`); before that, nobody can tell which episodes a protocol plays.

>>> key = protocol_key(b"0123456789abcdef", "synthetic-v1-8")
>>> [episode_seed(key, i) < 2**63 for i in range(2)], secret_order(key, ["b", "a"]) in (["a", "b"], ["b", "a"])
([True, True], True)
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SECRET_ENV = "MEMR2_SEED_SECRET_FILE"
"""Environment variable naming the secret file when ``--seed-secret-file`` is not given."""
MIN_SECRET_BYTES = 16


def read_secret(path: str | os.PathLike[str]) -> bytes:
    """The secret in ``path``: its bytes without surrounding whitespace, at least :data:`MIN_SECRET_BYTES` of
    them (``head -c 32 /dev/urandom | base64 > secret`` makes one)."""
    try:
        secret = Path(path).read_bytes().strip()
    except OSError as exc:
        raise ValueError(f"--seed-secret-file {path}: cannot read it ({exc.strerror or exc})") from None
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"--seed-secret-file {path}: a secret needs at least {MIN_SECRET_BYTES} bytes, it has "
                         f"{len(secret)} (make one with: head -c 32 /dev/urandom | base64 > {path})")
    return secret


def secret_path(flag: str | None) -> str | None:
    """``--seed-secret-file`` if given, else ``$MEMR2_SEED_SECRET_FILE`` if set, else None."""
    return flag or os.environ.get(SECRET_ENV) or None


def commitment(secret: bytes) -> str:
    """``sha256(secret)`` in hex: recorded in the result, it binds the run to the secret without revealing it."""
    return hashlib.sha256(secret).hexdigest()


def protocol_key(secret: bytes, protocol: str) -> bytes:
    """``HMAC-SHA256(secret, protocol name)``: one key per protocol, so one secret serves several."""
    return hmac.new(secret, protocol.encode("utf-8"), hashlib.sha256).digest()


def _draw(key: bytes, label: str) -> bytes:
    return hmac.new(key, label.encode("utf-8"), hashlib.sha256).digest()


def episode_seed(key: bytes, index: int) -> int:
    """The seed of episode ``index``: 63 bits of ``HMAC-SHA256(key, "seed <index>")``."""
    return int.from_bytes(_draw(key, f"seed {index}")[:8], "big") >> 1


def secret_order(key: bytes, conversation_ids: Sequence[str]) -> list[str]:
    """``conversation_ids`` sorted by ``HMAC-SHA256(key, "order <id>")``: an order nobody can predict."""
    return sorted(conversation_ids, key=lambda cid: _draw(key, f"order {cid}"))


def secret_plan(plan: list[tuple[int, dict[str, Any], int | None]], key: bytes) -> list[tuple[int, dict[str, Any], int | None]]:
    """``memr2 eval``'s public plan (seed, reset options, steps) made secret: episodes over conversations are put
    in :func:`secret_order`, and episode ``i`` (in the new order) gets :func:`episode_seed` ``i``."""
    if plan and all("conversation" in options for _, options, _ in plan):
        by_id = {options["conversation"]: (options, steps) for _, options, steps in plan}
        plan = [(0, *by_id[cid]) for cid in secret_order(key, list(by_id))]
    return [(episode_seed(key, i), options, steps) for i, (_, options, steps) in enumerate(plan)]


def reveal_problems(result: Any, secret: bytes) -> list[str]:
    """What a revealed ``secret`` contradicts in a result (a :class:`memr2.results.RunResult`): the commitment, the
    seeds and, for a conversation protocol, the order of the conversations. Empty when everything matches."""
    if not result.seed_commitment:
        return ["the result has no seed_commitment: it was not run with a seed secret"]
    if not result.protocol:
        return ["the result names no protocol, so its seeds cannot be recomputed"]
    if commitment(secret) != result.seed_commitment:
        return [f"sha256 of this secret is {commitment(secret)[:16]}..., the result committed to "
                f"{result.seed_commitment[:16]}...: not the secret of this run"]
    from memr2.protocols import PROTOCOLS

    key = protocol_key(secret, result.protocol)
    problems = []
    expected = [episode_seed(key, i) for i in range(len(result.seeds))]
    if list(result.seeds) != expected:
        problems.append(f"the seeds {result.seeds[:3]}... are not the secret's {expected[:3]}...")
    played = [episode.conversation_id for episode in result.episodes]
    over_conversations = getattr(PROTOCOLS.get(result.protocol), "episodes", 0) is None  # LoCoMo: every conversation
    if over_conversations and played != secret_order(key, played):
        problems.append(f"the conversations were played in the order {played}, the secret's is "
                        f"{secret_order(key, played)}")
    return problems
