"""Prompt templates: loading, sandboxed rendering, versions and the variables they expect.

A template is `prompts/<kind>/<language>.j2` with a `system` block and a `user` block.
User input only ever arrives as variables: it is never compiled as template source.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound, meta, nodes
from jinja2.exceptions import UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from app.errors import AppError, NotFound

PROMPT_BLOCKS = ("system", "user")
# Worked examples, used when a base model is prompted by completion instead of chat.
EXAMPLES_BLOCK = "examples"
DATA_TAG = "brief"


class TemplateRenderError(AppError):
    status_code = 500
    type = "template_error"


@dataclass(frozen=True)
class TemplateInfo:
    """What `GET /v1/templates` says about one template."""

    name: str
    kind: str
    language: str
    version: str
    variables: list[str]
    includes: list[str]


@dataclass(frozen=True)
class RenderedPrompt:
    """The system and user prompt as the model receives them, and where they came from."""

    template_name: str
    template_version: str
    system: str
    user: str
    examples: str = ""


def as_data(value: Any) -> str:
    """Jinja filter: user text as inert data; it cannot close the fence it sits in."""
    text = str(value)
    for tag in (f"</{DATA_TAG}", f"<{DATA_TAG}"):
        text = _replace_casefold(text, tag, tag.replace("<", "‹"))
    return text


def _replace_casefold(text: str, needle: str, replacement: str) -> str:
    lowered, start, out = text.lower(), 0, []
    while (hit := lowered.find(needle, start)) != -1:
        out.append(text[start:hit])
        out.append(replacement)
        start = hit + len(needle)
    out.append(text[start:])
    return "".join(out)


class PromptLibrary:
    """Every template under one folder, parsed once, with its version fixed at load time."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(directory),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
        )
        self.env.filters["data"] = as_data
        self._infos: dict[str, TemplateInfo] = {}
        for path in sorted(directory.glob("*/*.j2")):
            kind = path.parent.name
            if kind.startswith("_"):
                continue
            # `<language>.j2`, or `<variant>.<language>.j2` for a platform's or format's own.
            name = f"{kind}/{path.stem}"
            self._infos[name] = self._inspect(name, kind, path.stem.rsplit(".", 1)[-1])

    def _source(self, file_name: str) -> str:
        assert self.env.loader is not None
        source, _, _ = self.env.loader.get_source(self.env, file_name)
        return source

    def _closure(self, file_name: str) -> dict[str, str]:
        """The template and everything it includes or extends, by file name."""
        seen: dict[str, str] = {}
        pending = [file_name]
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen[current] = self._source(current)
            for ref in meta.find_referenced_templates(self.env.parse(seen[current])):
                if ref is None:
                    raise TemplateRenderError(f"{current}: includes must name a fixed template")
                pending.append(ref)
        return seen

    def _inspect(self, name: str, kind: str, language: str) -> TemplateInfo:
        file_name = f"{name}.j2"
        sources = self._closure(file_name)
        digest = hashlib.sha256()
        for ref in sorted(sources):
            digest.update(ref.encode() + b"\0" + sources[ref].encode() + b"\0")
        variables: set[str] = set()
        assigned: set[str] = set()
        for source in sources.values():
            ast = self.env.parse(source)
            variables |= meta.find_undeclared_variables(ast)
            assigned |= {n.name for n in ast.find_all(nodes.Name) if n.ctx == "store"}
        template = self.env.get_template(file_name)
        missing = [b for b in PROMPT_BLOCKS if b not in template.blocks]
        if missing:
            raise TemplateRenderError(f"{file_name} lacks the block(s) {', '.join(missing)}")
        return TemplateInfo(
            name=name,
            kind=kind,
            language=language,
            version=digest.hexdigest(),
            variables=sorted(variables - assigned),
            includes=sorted(ref for ref in sources if ref != file_name),
        )

    def missing(self, names: Iterable[str]) -> list[str]:
        """Which of these template names are not loaded."""
        return [name for name in names if name not in self._infos]

    def list(self) -> list[TemplateInfo]:
        """Every template, sorted by name."""
        return list(self._infos.values())

    def info(self, name: str) -> TemplateInfo:
        """One template's description, or NotFound."""
        try:
            return self._infos[name]
        except KeyError:
            raise NotFound(f"No prompt template named {name!r}.", param="template") from None

    def render(self, name: str, variables: dict[str, Any]) -> RenderedPrompt:
        """Render the system and user blocks of a template with the given variables."""
        info = self.info(name)
        try:
            template = self.env.get_template(f"{name}.j2")
            context = template.new_context(dict(variables))
            blocks = [b for b in (*PROMPT_BLOCKS, EXAMPLES_BLOCK) if b in template.blocks]
            parts = {b: "".join(template.blocks[b](context)).strip() for b in blocks}
        except (UndefinedError, TemplateNotFound) as exc:
            raise TemplateRenderError(f"Template {name} could not be rendered: {exc}") from exc
        return RenderedPrompt(
            template_name=name,
            template_version=info.version,
            system=parts["system"],
            user=parts["user"],
            examples=parts.get(EXAMPLES_BLOCK, ""),
        )
