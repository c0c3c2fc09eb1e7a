"""Customer insight from reviews: import, analysis, topics, personas."""
