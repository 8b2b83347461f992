"""Named evaluation protocols: what makes two ``memr2 eval`` results comparable.

A protocol fixes the environment, its arguments, the episodes (seeds or conversations), the horizon and the
scorer; ``memr2 eval --protocol NAME`` runs it and refuses flags that would change any of them. The leaderboard
tables are made of protocol runs. ``memr2 eval --list-protocols`` prints this table; docs/leaderboard.md explains it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Flags a protocol fixes: flag -> the attribute argparse stores it under.
FIXED_FLAGS = {
    "--env": "env",
    "--episodes": "episodes",
    "--seed": "seed",
    "--conversations": "conversations",
    "--max-sessions": "max_sessions",
    "--chunks-per-session": "chunks_per_session",
    "--scorer": "scorer",
    "--scorer-kwargs": "scorer_kwargs",
    "--data-path": "data_path",
    "--include-adversarial": "include_adversarial",
}
# Environment arguments that change what is measured; under a protocol only the protocol sets them.
FIXED_ENV_KWARGS = frozenset(
    {"max_sessions", "chunks_per_session", "scorer", "scorer_kwargs", "data_path", "include_adversarial", "dedupe",
     "errata", "retrieval_k", "facts_per_session", "update_rate", "retract_rate", "distractor_rate", "num_entities"}
)


class Protocol(BaseModel):
    """One named evaluation protocol."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    env_id: str
    env_kwargs: dict[str, Any] = Field(default_factory=dict, description="max_sessions, scorer_kwargs, ...")
    scorer: str
    episodes: int | None = Field(None, description="episodes from `seed` on; None: every conversation once")
    seed: int = Field(0, description="seed of the first episode; episode i uses seed + i")
    data_sha256: str | None = Field(None, description="LoCoMo file the protocol requires (sha256)")
    errata_sha256: str | None = Field(None, description="errata overlay file the protocol requires (sha256)")

    def summary(self) -> str:
        """One line: episodes, seeds, horizon and scorer."""
        if self.episodes:
            episodes = f"{self.episodes} episodes from seed {self.seed}"
        else:
            episodes = f"every conversation, seeds from {self.seed}"
        sessions = self.env_kwargs.get("max_sessions", "all")
        scorer = self.scorer
        if "scorer_kwargs" in self.env_kwargs:
            scorer += f" {self.env_kwargs['scorer_kwargs']}"
        errata = f", errata {self.env_kwargs['errata']}" if "errata" in self.env_kwargs else ""
        return f"{self.env_id}: {episodes}, {sessions} sessions, {scorer} scorer{errata}"


LOCOMO_DEV_SHA256 = "60c948c666c8ff25212a93ec8714a7db735618c993c63935aa63d31df5c0ced3"
LOCOMO10_SHA256 = "79fa87e90f04081343b8c8debecb80a9a6842b76a7aa537dc9fdf651ea698ff4"
AUDIT_V1_SHA256 = "e7243934ff2eda1ad12fe39b28c91fc6998f60b7557706a26976f081f56a15e4"
"""sha256 of memenv/data/locomo/errata-audit-v1.json (the LoCoMo audit's corrections)."""

PROTOCOLS = {
    p.name: p
    for p in (
        Protocol(
            name="synthetic-v0-32",
            description="Leaderboard: Synthetic-v0 at the curriculum's longest horizon, held-out seeds.",
            env_id="MemoryR2/Synthetic-v0",
            env_kwargs={"max_sessions": 32},
            scorer="rule",
            episodes=5,
            seed=100000,
        ),
        *(
            Protocol(
                name=f"synthetic-v1-{sessions}",
                description=f"Synthetic-v1 baselines at {sessions} sessions, held-out seeds.",
                env_id="MemoryR2/Synthetic-v1",
                env_kwargs={"max_sessions": sessions},
                scorer="rule",
                episodes=5,
                seed=100000,
            )
            for sessions in (8, 16, 32)
        ),
        Protocol(
            name="synthetic-v1-8-test",
            description="Synthetic-v1 at 8 sessions on the test seeds of the Synthetic-v1 training runs "
            "(configs/synthetic-v1-feature.yaml): the reference rows for their test scores.",
            env_id="MemoryR2/Synthetic-v1",
            env_kwargs={"max_sessions": 8},
            scorer="rule",
            episodes=8,
            seed=200000,
        ),
        Protocol(
            name="locomo-dev",
            description="Leaderboard: the embedded 3-conversation LoCoMo dev subset, recall scorer.",
            env_id="MemoryR2/LoCoMo-v0",
            scorer="recall",
            data_sha256=LOCOMO_DEV_SHA256,
        ),
        Protocol(
            name="locomo-dev-no-dates",
            description="As locomo-dev, but the recall reader sees memories without their `[date]` prefix, so "
            "temporal credit must come from what the agent stored (see memenv/data/locomo/PROTOCOL.md).",
            env_id="MemoryR2/LoCoMo-v0",
            env_kwargs={"scorer_kwargs": {"date_prefix": False}},
            scorer="recall",
            data_sha256=LOCOMO_DEV_SHA256,
        ),
        Protocol(
            name="locomo10",
            description="The full official locomo10.json (from `memr2 data locomo`; give it with --data-path or "
            "MEMR2_LOCOMO_PATH), recall scorer.",
            env_id="MemoryR2/LoCoMo-v0",
            scorer="recall",
            data_sha256=LOCOMO10_SHA256,
        ),
        *(
            Protocol(
                name=f"{base}-audited",
                description=f"As {base} ({what}), with the golds and evidence ids corrected by the LoCoMo audit "
                "(errata audit-v1 from dial481/locomo-audit; memenv/data/locomo/README.md).",
                env_id="MemoryR2/LoCoMo-v0",
                env_kwargs={"errata": "audit-v1"},
                scorer="recall",
                data_sha256=sha256,
                errata_sha256=AUDIT_V1_SHA256,
            )
            for base, what, sha256 in (
                ("locomo-dev", "the embedded dev subset", LOCOMO_DEV_SHA256),
                ("locomo10", "the official locomo10.json, verified by sha256", LOCOMO10_SHA256),
            )
        ),
    )
}


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; choose one of {sorted(PROTOCOLS)} (memr2 eval --list-protocols)")
    return PROTOCOLS[name]


def apply_protocol(args: argparse.Namespace, protocol: Protocol, env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Fill ``args`` (env, seed, episodes) from ``protocol`` and return the env arguments to use.

    ``env_kwargs`` are the user's extra environment arguments; a flag or an argument the protocol fixes is a
    ``ValueError`` (a run that changes them is not a run of the protocol).
    """
    for flag, attr in FIXED_FLAGS.items():
        value = getattr(args, attr, None)
        allowed = (attr == "env" and value == protocol.env_id) or (attr == "data_path" and protocol.data_sha256)
        if value not in (None, False) and not allowed:
            raise ValueError(f"{flag} is fixed by --protocol {protocol.name} ({protocol.summary()}); drop {flag} "
                             "or run without --protocol")
    fixed = sorted(FIXED_ENV_KWARGS & set(env_kwargs) - ({"data_path"} if protocol.data_sha256 else set()))
    if fixed:
        raise ValueError(f"--env-kwargs {fixed} would change what --protocol {protocol.name} measures; "
                         "run without --protocol to vary them")
    args.env, args.seed, args.episodes = protocol.env_id, protocol.seed, protocol.episodes
    return {**protocol.env_kwargs, "scorer": protocol.scorer, **env_kwargs}


def check_data(protocol: Protocol, env: Any) -> None:
    """A protocol pinned to a data file refuses another one (e.g. from ``$MEMR2_LOCOMO_PATH``)."""
    if protocol.data_sha256 is None:
        return
    from memenv.files import sha256_of

    report = env.unwrapped.report
    path = Path(report.path)
    if sha256_of(path) != protocol.data_sha256:
        raise ValueError(f"--protocol {protocol.name} needs the LoCoMo file with sha256 "
                         f"{protocol.data_sha256[:12]}..., but the env loaded {path} (check MEMR2_LOCOMO_PATH)")
    applied = report.errata.sha256 if report.errata else None
    if applied != protocol.errata_sha256:
        raise ValueError(f"--protocol {protocol.name} needs the errata overlay with sha256 "
                         f"{(protocol.errata_sha256 or 'none')[:12]}, but the env applied {(applied or 'none')[:12]} "
                         "(memenv/data/locomo/errata-*.json was modified?)")
