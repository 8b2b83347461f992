"""Adapters that put memory-r2 on the RL engines people already use (docs/engines.md).

* :mod:`engines.openenv_server` / :mod:`engines.openenv_client`: memenv served as an OpenEnv environment
  (``pip install -e '.[openenv]'``), with fork / state endpoints so a trainer can branch a session.
* :mod:`engines.verifiers_env`: a verifiers (0.4, ``verifiers.v1``) taskset and env for Synthetic-v1 and
  LoCoMo-v0 (``pip install -e '.[verifiers]'``; ``vf-eval memory-r2``).
* :mod:`engines.trl_recipe`: TRL's ``GRPOTrainer`` training the LLM agent on Synthetic-v1
  (``pip install -e '.[trl]'``).
* :mod:`engines.agent_endpoint`: a scripted memory-r2 agent served as an OpenAI-compatible endpoint, to check an
  engine's plumbing against ``memr2 eval``; :mod:`engines.serving`: an ASGI app in a background thread.

The verifiers plugin id is ``memory-r2``: the top-level package ``memory_r2`` re-exports
:mod:`engines.verifiers_env` (verifiers accepts no dotted ids).

Each engine is an optional extra. ``memenv`` never imports this package, and importing ``engines`` itself imports
none of the engines: each module imports its own engine, with a message saying which extra to install.
"""

from __future__ import annotations

import importlib


def require(module: str, extra: str) -> object:
    """``importlib.import_module(module)``, or an ``ImportError`` that names the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{module!r} is not installed ({exc}); install the engine with  pip install -e '.[{extra}]'  "
            "(docs/engines.md lists the versions that work)"
        ) from exc
