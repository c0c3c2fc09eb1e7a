"""copyforge: marketing copy written by LLMs, stored with provenance, improved by ratings."""

__version__ = "0.1.0"
