"""xpl: cross-programming-language transfer for code LLMs."""

__version__ = "0.1.0"
