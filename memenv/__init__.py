"""memenv: multi-session memory environments (Gymnasium), after Memory-R2.

``import memenv`` registers ``MemoryR2/Synthetic-v1`` (the default synthetic env), ``MemoryR2/Synthetic-v0``
(deprecated, kept for its protocol) and ``MemoryR2/LoCoMo-v0``; then ``gymnasium.make("MemoryR2/Synthetic-v1")``. No torch import anywhere on this package's import path.
"""

from memenv.actions import ExtractAction, ManageAction, ParseError, parse_action
from memenv.bank import MemoryBank, MemoryEntry
from memenv.env import EnvState, MemoryEnv
from memenv.registration import register_envs
from memenv.views import ExtractorView, FactView, ManagerView, MemoryView, parse_view
from memenv.wrappers import fork

register_envs()

__version__ = "0.1.0"
__all__ = [
    "EnvState",
    "ExtractAction",
    "ExtractorView",
    "FactView",
    "ManageAction",
    "ManagerView",
    "MemoryBank",
    "MemoryEntry",
    "MemoryEnv",
    "MemoryView",
    "ParseError",
    "fork",
    "parse_action",
    "parse_view",
]
