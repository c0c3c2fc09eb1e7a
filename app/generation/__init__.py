"""Content kinds: typed briefs, the generation service and its routes."""
