"""The house's shape: the domain and the services load without the web framework, and no
module of `app` imports itself back through others. (`lint-imports` checks the layers.)"""

import subprocess
import sys

import grimp
import pytest

# Everything a worker or the CLI's `generate` needs to write and store a generation.
WITHOUT_WEB = [
    "app.generation.service",
    "app.history.service",
    "app.ratings.service",
    "app.llm.registry",
    "app.prompting",
    "app.kinds",
    "app.cli",
]


@pytest.mark.parametrize("module", WITHOUT_WEB)
def test_importing_does_not_load_the_web_framework(module: str) -> None:
    probe = (
        f"import sys, {module}\n"
        "web = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'fastapi', 'starlette', 'sse_starlette'})\n"
        "print(','.join(web))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "", f"importing {module} loads {loaded}"


def test_no_import_cycles_in_app() -> None:
    graph = grimp.build_graph("app")
    cycles = []
    for importer in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(importer):
            if graph.chain_exists(importer=imported, imported=importer):
                cycles.append(graph.find_shortest_chain(importer=imported, imported=importer))
    assert cycles == []
