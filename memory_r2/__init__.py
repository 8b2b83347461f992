"""The verifiers plugin id ``memory-r2``: ``vf-eval memory-r2 ...`` imports this package (verifiers resolves a
taskset id to a top-level module name, ``memory-r2`` -> ``memory_r2``; a dotted id such as
``engines.verifiers_env`` is not accepted). Only a re-export: the code is :mod:`engines.verifiers_env`
(docs/engines.md). Importing it needs the ``verifiers`` extra."""

from engines.verifiers_env import MemoryR2Env, MemoryTaskset

__all__ = ["MemoryTaskset", "MemoryR2Env"]
