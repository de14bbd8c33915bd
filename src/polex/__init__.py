"""polex: secure police information exchange between organisations."""

__version__ = "0.1.0"
