"""idelearn: learn and solve integro-differential and integral equations."""

__version__ = "0.1.0"
