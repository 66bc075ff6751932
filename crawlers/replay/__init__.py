"""The replay server: loopback HTTP that answers in the real sites' shapes, from scenario files."""

from crawlers.replay.scenario import Post, Scenario, load_scenario
from crawlers.replay.server import ReplayServer

__all__ = ["Post", "ReplayServer", "Scenario", "load_scenario"]
