"""`POST /v1/checks`: the checks a generation runs, on any text, without a model."""
