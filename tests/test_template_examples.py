"""The worked examples in the structured kinds' templates are copy the service would pass:
the small embedded models copy their shape (and sometimes their words), so an example that
broke a limit or a rule would teach the model to break it."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from app.generation.harvest import build_variant
from app.kinds import KINDS
from app.kinds.base import ContentKind
from app.knowledge.bundle import Knowledge

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
STRUCTURED = [kind for kind in KINDS.values() if kind.structure is not None]
# The answer lines of an examples block: one JSON object each.
ANSWER = re.compile(r'^\{".*\}$', re.MULTILINE)


def _templates() -> list[tuple[ContentKind[Any], Path]]:
    return [
        (kind, path) for kind in STRUCTURED for path in sorted((PROMPTS / kind.name).glob("*.j2"))
    ]


def _brief(kind: ContentKind[Any], variant: str, language: str, answer: dict[str, Any]) -> Any:
    body: dict[str, Any] = {"language": language, "topic": "the example's topic"}
    if kind.name == "social_post":
        body["platform"] = variant
    elif kind.name == "ad_set":
        body["format"] = variant
        if variant == "google_rsa":
            body["headlines"] = len(answer["headlines"])
            body["descriptions"] = len(answer["descriptions"])
    elif kind.name == "email":
        body["purpose"] = "launch"
    return kind.fill(kind.brief_model.model_validate(body), Knowledge())


@pytest.mark.parametrize(
    ("kind", "path"), _templates(), ids=lambda v: v.name if isinstance(v, Path) else v.name + "/"
)
def test_every_worked_example_passes_its_hard_checks(kind: ContentKind[Any], path: Path) -> None:
    stem = path.name.removesuffix(".j2")
    variant, _, language = stem.rpartition(".")
    answers = ANSWER.findall(path.read_text(encoding="utf-8"))
    assert len(answers) >= 2, f"{path.name}: expected at least two worked examples"
    for raw in answers:
        answer = json.loads(raw)
        made = build_variant(kind, _brief(kind, variant, language, answer), raw)
        failed = [c for c in made.checks_json if c["hard"] and not c["passed"]]
        assert made.text, f"{path.name}: an example read as no copy"
        assert failed == [], f"{path.name}: {raw[:60]}…"
