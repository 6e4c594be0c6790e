"""The version of automix and daw_bridge (one distribution)."""

__version__ = "0.1.0"
