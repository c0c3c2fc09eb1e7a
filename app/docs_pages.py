"""Swagger UI (/docs) and ReDoc (/redoc) with their scripts, styles and icon served by this app.

FastAPI's own pages load them from a public CDN, so on a machine with no network they stay
blank. The assets ship inside the `fastapi-offline` package; this module mounts that folder
and builds the pages with FastAPI's documented helpers, so no request leaves the machine."""

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"
# The package's folder holding swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js and
# favicon.png. Found through the import system, so it works from a wheel or an editable install,
# and a missing package fails create_app instead of the first page view.
ASSETS_PACKAGE = ("fastapi_offline", "static")
# The pages may load only from this server (their inline bootstrap scripts and the styles the
# renderers inject aside). ReDoc's sidebar shows its vendor's logo from the vendor's host, with
# no option to turn it off; this keeps the browser from asking for it, or for anything a
# future release of the assets would fetch from elsewhere.
CONTENT_SECURITY_POLICY = "default-src 'self' data: blob: 'unsafe-inline'"


def install_docs(app: FastAPI) -> None:
    """Add /docs, its OAuth2 redirect page and /redoc to an app built with both turned off.

    Everything the pages get from the app (title, OpenAPI URL, Swagger UI parameters and OAuth2
    settings) is read as FastAPI's default pages read it, so only the assets' origin changes."""
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("the docs pages need the OpenAPI document (openapi_url)")
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url
    app.mount(ASSETS_URL, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-assets")

    def root_path(request: Request) -> str:
        # Behind a proxy that strips a prefix, the page's links must carry it again.
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = root_path(request)
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=root + oauth2_redirect_url if oauth2_redirect_url else None,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        )
        page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return page

    if oauth2_redirect_url:

        @app.get(oauth2_redirect_url, include_in_schema=False)
        async def swagger_ui_oauth2_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = root_path(request)
        page = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            # The page would otherwise link its fonts from a public font host.
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return page
