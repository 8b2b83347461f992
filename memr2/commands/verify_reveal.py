"""``memr2 verify-reveal``: check results run on secret seeds against the secret, once it is revealed.

A result made with ``memr2 eval --seed-secret-file`` records ``seed_commitment = sha256(secret)`` and the seeds it
played. Given the revealed secret, this checks that it is the committed one and recomputes the protocol's seeds (and
LoCoMo's conversation order) from ``HMAC-SHA256(secret, protocol)`` (:mod:`memr2.secret_seeds`): a maintainer who
ran other episodes than the secret's, or changed the secret afterwards, is caught. Exit 1 if any file fails.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify-reveal",
        help="check results run on secret seeds against the revealed secret",
        description="For each result: sha256(secret) must equal its seed_commitment, and its seeds (and LoCoMo's "
        "conversation order) must be the ones HMAC-SHA256(secret, protocol) draws. Exit 1 if any file fails.",
    )
    parser.add_argument("results", nargs="+", help="result JSON files made with --seed-secret-file")
    parser.add_argument("--secret-file", required=True, help="the revealed secret (the file given to memr2 eval)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memr2.results import read_result
    from memr2.secret_seeds import read_secret, reveal_problems

    secret = read_secret(args.secret_file)
    failed = 0
    for path in args.results:
        problems = reveal_problems(read_result(path), secret)
        failed += bool(problems)
        print(f"{path}: " + ("; ".join(problems) if problems else "ok (commitment, seeds and order match the secret)"))
    return 1 if failed else 0
