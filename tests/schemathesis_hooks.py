"""schemathesis hooks for tests/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

The fuzzer draws Idempotency-Key values from a small space ("0", "!") and reuses them across
different bodies; the server then rightly answers 422 (as the IETF Idempotency-Key draft
says) to a valid body. That one refusal is accepted, recognised by its `param`; any other 422
for a valid body still fails the run. Replays and key reuse are tested in
tests/test_idempotency.py."""

import json
from typing import Any

import schemathesis


def _reused_idempotency_key(response: Any) -> bool:
    if response.status_code != 422:
        return False
    try:
        error = json.loads(response.content)["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return bool(error.get("param") == "Idempotency-Key" and "already used" in error["message"])


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but a valid body refused for reusing an Idempotency-Key."""
    return not _reused_idempotency_key(response)


@schemathesis.serializer("application/x-ndjson")
def _json_lines(context: Any, value: Any) -> bytes:
    """The catalog import's JSON Lines body: a string is sent as it is, anything else as one
    JSON line (schemathesis has no serializer for the media type)."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return (json.dumps(value) + "\n").encode("utf-8", "surrogatepass")
