"""agents: who acts -- the MemoryAgent protocol, scripted baselines, the LLM agent, and the agent registry."""

from agents.base import MemoryAgent
from agents.registry import make_agent
from agents.rollout import EpisodeResult, run_episode

__all__ = ["EpisodeResult", "MemoryAgent", "make_agent", "run_episode"]
