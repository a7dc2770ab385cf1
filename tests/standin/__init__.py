"""A Discourse stand-in for tests and the demo. See README.md in this directory."""
from .forum import DEFAULT_SETTINGS
from .server import DEMO_PASSWORD, StandinServer, hostile_scripts, seed_demo

__all__ = ["StandinServer", "DEFAULT_SETTINGS", "DEMO_PASSWORD", "hostile_scripts", "seed_demo"]
