"""Workspaces, API keys, scopes and per-key limits."""
