"""Template loading, versions and sandboxing."""

from pathlib import Path

import pytest

from app.paths import PROMPTS_DIR
from app.prompting import PromptLibrary, TemplateRenderError


def make_library(tmp_path: Path, partial: str = "Rule one.") -> PromptLibrary:
    (tmp_path / "_partials").mkdir(exist_ok=True)
    (tmp_path / "_partials" / "rule.j2").write_text(partial, encoding="utf-8")
    (tmp_path / "demo").mkdir(exist_ok=True)
    (tmp_path / "demo" / "en.j2").write_text(
        '{% block system %}{% include "_partials/rule.j2" %}{% endblock %}'
        "{% block user %}Say {{ thing | data }}.{% endblock %}",
        encoding="utf-8",
    )
    return PromptLibrary(tmp_path)


def test_version_changes_when_an_included_partial_changes(tmp_path: Path) -> None:
    before = make_library(tmp_path).info("demo/en").version
    after = make_library(tmp_path, partial="Rule two.").info("demo/en").version
    assert before != after
    assert make_library(tmp_path, partial="Rule two.").info("demo/en").version == after


def test_render_blocks_and_variables(tmp_path: Path) -> None:
    library = make_library(tmp_path)
    rendered = library.render("demo/en", {"thing": "{{ 7*7 }}"})
    assert rendered.system == "Rule one."
    assert rendered.user == "Say {{ 7*7 }}."
    assert library.info("demo/en").variables == ["thing"]


def test_missing_variable_is_an_error_not_an_empty_string(tmp_path: Path) -> None:
    with pytest.raises(TemplateRenderError):
        make_library(tmp_path).render("demo/en", {})


def test_sandbox_blocks_unsafe_attribute_access(tmp_path: Path) -> None:
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "en.j2").write_text(
        "{% block system %}x{% endblock %}{% block user %}{{ thing.__class__.__mro__ }}"
        "{% endblock %}",
        encoding="utf-8",
    )
    make_library(tmp_path)  # the good template still loads
    from jinja2.exceptions import SecurityError

    with pytest.raises((SecurityError, TemplateRenderError)):
        PromptLibrary(tmp_path).render("evil/en", {"thing": "a"})


def test_shipped_templates_fence_user_data() -> None:
    library = PromptLibrary(PROMPTS_DIR)
    for info in library.list():
        assert info.includes, info.name
        source = (PROMPTS_DIR / f"{info.name}.j2").read_text(encoding="utf-8")
        assert "<brief>" in source
        assert "</brief>" in source
