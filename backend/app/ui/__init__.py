"""The web console: static HTML, CSS and JavaScript modules served at /ui (no build step)."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import URL
from starlette.responses import Response
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"


class ConsoleFiles(StaticFiles):
    """The console's files. A directory asked for without its trailing slash (/ui/js/..) is
    redirected to it by a relative Location: Starlette's names the host of the request's Host
    header, which the client chooses."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if isinstance(response, RedirectResponse):
            location = URL(response.headers["location"])
            query = f"?{location.query}" if location.query else ""
            response.headers["location"] = f"{location.path}{query}"
        return response


def install_ui(app: FastAPI) -> None:
    app.mount("/ui", ConsoleFiles(directory=STATIC_DIR, html=True), name="ui")

    # The mount serves /ui/ and below; the app redirects no trailing slash by itself.
    @app.get("/ui", include_in_schema=False)
    async def ui() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/")
