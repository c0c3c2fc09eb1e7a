"""Ratings: people's 1..5 verdicts on variants."""
