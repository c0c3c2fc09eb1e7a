"""Swagger UI and ReDoc in a real headless browser, against a live `copyforge serve`.

The pages must render from what the server itself sends: every request the browser makes to
a host other than the loopback one is aborted and recorded, and none may happen. On /docs,
every operation of /openapi.json is listed, and the ad-slogans example runs through
"Try it out": refused without a key, then 201 once the key is given through "Authorize"."""

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from tests.mock_upstream import SLOGANS_EN, create_mock_app
from tests.processes import copyforge_command, running_server
from tests.servers import serve_in_thread

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"no Chromium at {CHROMIUM} (.ci/run installs Debian's chromium package)",
)

LOOPBACK_HOSTS = {"127.0.0.1", "localhost"}
# Every wait is bounded: a page that does not render fails the test within this, not the run.
WAIT_MS = 30_000
CLI_TIMEOUT_S = 60


@dataclass(frozen=True)
class Docs:
    """The live server's base URL, an API key for it and its OpenAPI document."""

    base_url: str
    key: str
    openapi: dict[str, Any]

    def operations(self) -> set[tuple[str, str]]:
        """(METHOD, path) of every operation in the document."""
        return {
            (method.upper(), path)
            for path, methods in self.openapi["paths"].items()
            for method in methods
        }


def create_key(database_url: str, cwd: Path) -> str:
    """A new API key, made as an operator makes one: `copyforge keys create`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYFORGE_")}
    env["COPYFORGE_DATABASE_URL"] = database_url
    created = subprocess.run(
        [copyforge_command(), "keys", "create", "--workspace", "docs-browser"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=True,
    )
    return next(
        line.split(":", 1)[1].strip()
        for line in created.stdout.splitlines()
        if line.startswith("key:")
    )


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Docs]:
    """`copyforge serve` with auth on, its model a mock upstream on loopback (quick answers)."""
    workdir = tmp_path_factory.mktemp("docs_browser")
    database_url = f"sqlite:///{workdir / 'docs.db'}"
    key = create_key(database_url, workdir)
    with serve_in_thread(create_mock_app()) as upstream:
        model = {"provider": "openai_compat", "base_url": f"{upstream}/v1", "model": "mock-1"}
        env = {
            "COPYFORGE_AUTH_REQUIRED": "true",
            "COPYFORGE_MODELS": json.dumps({"mock": model}),
            "COPYFORGE_DEFAULT_MODEL": "mock",
        }
        with running_server(database_url, workdir / "serve.log", env) as server:
            openapi = httpx.get(f"{server.base_url}/openapi.json", timeout=10).json()
            yield Docs(server.base_url, key, openapi)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # The system's Chromium, never a downloaded build.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu"],
            timeout=WAIT_MS,
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass(frozen=True)
class Watched:
    """A page; the off-machine requests it made (all aborted), what its Content-Security-Policy
    refused to load (never sent, as "directive URL"), and its uncaught script errors."""

    page: Page
    off_machine: list[str]
    refused: list[str]
    errors: list[str]


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    off_machine: list[str] = []
    refused: list[str] = []
    errors: list[str] = []

    def only_loopback(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in ("data", "blob") or url.hostname in LOOPBACK_HOSTS:
            route.continue_()
        else:
            off_machine.append(f"{route.request.method} {route.request.url}")
            route.abort("blockedbyclient")

    def report_refused(directive: str, url: str) -> None:
        refused.append(f"{directive} {url}")

    # On the context, and before the page exists, so that nothing it or its workers and
    # frames ask for goes unseen.
    context.route("**/*", only_loopback)
    context.expose_function("reportRefused", report_refused)
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation',"
        " (e) => window.reportRefused(e.effectiveDirective, e.blockedURI))"
    )
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield Watched(page, off_machine, refused, errors)
    finally:
        context.close()


def open_page(watched: Watched, url: str) -> Page:
    """Load `url` and its scripts; fail at once, naming them, if any came from elsewhere."""
    watched.page.goto(url, wait_until="load")
    assert watched.off_machine == [], "the page loads from outside the machine"
    scripts_and_styles = [r for r in watched.refused if r.split()[0] != "img-src"]
    assert scripts_and_styles == [], "the page links scripts or styles on another host"
    return watched.page


def test_swagger_ui_renders_every_operation_and_runs_the_example(
    docs: Docs, watched: Watched
) -> None:
    page = open_page(watched, f"{docs.base_url}/docs")
    expect(page).to_have_title("copyforge - Swagger UI")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("copyforge", timeout=WAIT_MS)
    blocks = page.locator(".opblock")
    expect(blocks).to_have_count(len(docs.operations()), timeout=WAIT_MS)
    listed = {
        (
            block.locator(".opblock-summary-method").inner_text().strip().upper(),
            str(block.locator(".opblock-summary-path").get_attribute("data-path")),
        )
        for block in blocks.all()
    }
    assert listed == docs.operations()

    slogans = page.locator(".opblock.opblock-post").filter(
        has=page.locator('.opblock-summary-path[data-path="/v1/ad-slogans"]')
    )
    slogans.locator(".opblock-summary-control").click()
    slogans.locator("button.try-out__btn", has_text="Try it out").click()
    # The prefilled body is the schema's example, sent as it is.
    expect(slogans.locator(".body-param textarea")).to_contain_text("Aurora", timeout=WAIT_MS)
    status = slogans.locator(".live-responses-table td.response-col_status:not(.col_header)")

    # Without a key the server refuses: auth is on, so the 201 below is the key's doing.
    slogans.locator("button.execute", has_text="Execute").click()
    expect(status).to_have_text("401", timeout=WAIT_MS)

    page.locator(".auth-wrapper button.authorize").click()
    dialog = page.locator(".modal-ux")
    dialog.locator("input#auth-bearer-value").fill(docs.key)
    dialog.locator("button.modal-btn.authorize", has_text="Authorize").click()
    expect(dialog.locator("button", has_text="Logout")).to_be_visible(timeout=WAIT_MS)
    dialog.locator("button.btn-done", has_text="Close").click()
    expect(dialog).to_have_count(0, timeout=WAIT_MS)

    slogans.locator("button.execute", has_text="Execute").click()
    expect(status).to_have_text("201", timeout=WAIT_MS)
    body = slogans.locator(".live-responses-table .response-col_description .highlight-code pre")
    expect(body).to_contain_text('"variants"', timeout=WAIT_MS)
    assert any(slogan in body.inner_text() for slogan in SLOGANS_EN)

    assert watched.off_machine == []
    assert watched.refused == []
    assert watched.errors == []


def test_redoc_renders_the_title_and_the_ad_slogans_operation(docs: Docs, watched: Watched) -> None:
    page = open_page(watched, f"{docs.base_url}/redoc")
    expect(page).to_have_title("copyforge - ReDoc")
    expect(page.locator("h1", has_text="copyforge")).to_be_visible(timeout=WAIT_MS)
    summary = docs.openapi["paths"]["/v1/ad-slogans"]["post"]["summary"]
    # The whole heading: "Write ad slogans, one generation per audience" starts the same.
    heading = page.get_by_role("heading", level=2, name=re.compile(rf"{re.escape(summary)}$"))
    expect(heading).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("/v1/ad-slogans", exact=True).first).to_be_attached(timeout=WAIT_MS)

    assert watched.off_machine == []
    # At most the image ReDoc's sidebar links on its vendor's host, which the page's policy
    # keeps the browser from fetching; every script and style came from this server.
    assert {refused.split()[0] for refused in watched.refused} <= {"img-src"}
    assert watched.errors == []
