"""``memr2 data``: fetch datasets. ``memr2 data locomo --out PATH`` downloads and verifies the full LoCoMo file;
``memr2 data errata [--data-path PATH]`` shows what an errata overlay changes in it and the ceilings.

The URL is pinned to the upstream commit whose ``data/locomo10.json`` has the pinned sha256 below; a mismatch
deletes the partial download and exits non-zero.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import urllib.request
from pathlib import Path

from memenv.files import open_no_follow, sha256_of

LOCOMO_COMMIT = "3eb6f2c585f5e1699204e3c3bdf7adc5c28cb376"
LOCOMO_URL = f"https://raw.githubusercontent.com/snap-research/locomo/{LOCOMO_COMMIT}/data/locomo10.json"
LOCOMO_SHA256 = "79fa87e90f04081343b8c8debecb80a9a6842b76a7aa537dc9fdf651ea698ff4"
_BLOCK = 1 << 16


class ChecksumError(ValueError):
    """A downloaded file does not have the expected sha256 (the partial file has been deleted)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="download datasets (LoCoMo)", description=__doc__.splitlines()[0])
    datasets = parser.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    locomo = datasets.add_parser(
        "locomo",
        help="download the official locomo10.json (CC BY-NC 4.0) and verify its sha256",
        description="Download LoCoMo's locomo10.json, verify its sha256, and report what the loader finds.",
    )
    locomo.add_argument("--out", required=True, help="destination file, e.g. data/locomo10.json")
    locomo.add_argument("--url", default=LOCOMO_URL, help="source URL (file:// works) (default: pinned upstream)")
    locomo.add_argument("--sha256", default=LOCOMO_SHA256, help="expected sha256 (default: the pinned one)")
    locomo.add_argument("--force", action="store_true", help="download even if --out already verifies")
    locomo.set_defaults(func=run_locomo)
    errata = datasets.add_parser(
        "errata",
        help="what an errata overlay changes in a LoCoMo file, per conversation and category, and the ceilings",
        description="Apply an errata overlay (memenv/data/errata.py) to a LoCoMo file and print the golds and "
        "evidence lists it changes per conversation and category, then the ceilings under the original golds.",
    )
    errata.add_argument("--data-path", default=None, help="LoCoMo file (default: $MEMR2_LOCOMO_PATH or dev subset)")
    errata.add_argument("--errata", default="audit-v1", help="overlay name (default: %(default)s)")
    errata.add_argument("--list", action="store_true", help="also print every changed question (old -> new)")
    errata.set_defaults(func=run_errata)


def download(url: str, out: str | os.PathLike[str], sha256: str, *, timeout: float = 60.0) -> Path:
    """Stream ``url`` to ``out`` via a ``.part`` file; keep it only if its sha256 is ``sha256``.

    Raises:
        ChecksumError: the digest differs (the partial file is deleted).
        OSError: the download failed (the partial file is deleted).
    """
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    partial.unlink(missing_ok=True)  # a stale or planted .part (even a symlink) goes; the new one is created afresh
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open_no_follow(partial, "x", binary=True) as handle:
            for block in iter(lambda: response.read(_BLOCK), b""):
                digest.update(block)
                handle.write(block)
        if digest.hexdigest() != sha256.lower():
            raise ChecksumError(
                f"sha256 mismatch for {url}: expected {sha256.lower()}, got {digest.hexdigest()}; "
                f"deleted the partial file {partial}"
            )
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


def run_locomo(args: argparse.Namespace) -> int:
    from memenv.data.locomo import ENV_VAR, dataset_counts, load_locomo

    out = Path(args.out)
    if out.exists() and not args.force and sha256_of(out) == args.sha256.lower():
        print(f"{out} already present and verified (sha256 {args.sha256.lower()})")
    else:
        try:
            download(args.url, out, args.sha256)
        except ChecksumError as exc:
            print(f"memr2 data locomo: error: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"memr2 data locomo: error: download from {args.url} failed: {exc}", file=sys.stderr)
            return 1
        print(f"downloaded {args.url} -> {out} (sha256 verified)")
    conversations, report = load_locomo(out)
    counts = dataset_counts(conversations)
    print(
        f"{counts['conversations']} conversations, {counts['sessions']} sessions, {counts['turns']} turns, "
        f"{counts['questions']} questions {counts['per_category']}"
    )
    print(
        f"tolerated: {report.repaired_evidence} repaired / {report.dropped_evidence} dropped evidence ids, "
        f"{report.orphan_date_times} date keys without a session, {report.duplicate_questions} duplicate questions"
    )
    print(f"use it with: gymnasium.make('MemoryR2/LoCoMo-v0', data_path='{out}') or {ENV_VAR}={out}")
    print("LoCoMo is licensed CC BY-NC 4.0 (non-commercial use, with attribution to Maharana et al., ACL 2024).")
    return 0


def run_errata(args: argparse.Namespace) -> int:
    from collections import Counter

    from memenv.data.locomo import load_locomo
    from memenv.scoring.ceilings import ceilings

    _, report = load_locomo(args.data_path, errata=args.errata)
    changed = report.errata
    print(f"errata {changed.name} [{changed.sha256[:12]}] on {report.path}: {changed.golds_changed} golds and "
          f"{changed.evidence_changed} evidence lists changed")
    counts = Counter((c.conversation, c.category, c.field) for c in changed.changes)
    categories = sorted({c.category for c in changed.changes})
    print("conversation  " + "  ".join(f"{name:>16}" for name in categories) + "  (golds / evidence lists)")
    for conversation in dict.fromkeys(c.conversation for c in changed.changes):
        cells = [f"{counts[conversation, name, 'answer']:>7} / {counts[conversation, name, 'evidence']:<6}"
                 for name in categories]
        print(f"{conversation:<12}  " + "  ".join(cells))
    for metric, table in ceilings(args.data_path, errata=args.errata).items():
        parts = ", ".join(f"{name} {p.mean:.4f} ({p.changed}/{p.count})" for name, p in table.per_category.items())
        overall = table.overall
        print(f"ceiling {metric}: overall {overall.mean:.4f} ({overall.changed}/{overall.count}); {parts}")
    print("J ceiling: needs a judge (memr2 eval --answerer ... --judge ... records it); if the judge rejects every "
          f"corrected gold it is {1 - table.overall.changed / table.overall.count:.4f}")
    if args.list:
        for c in changed.changes:
            print(f"{c.conversation} qa[{c.index}] {c.category} {c.field}: {c.old!r} -> {c.new!r}")
    return 0
