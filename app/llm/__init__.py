"""LLM clients: one protocol, several providers, chosen by alias."""
