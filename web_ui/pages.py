"""Serves the browser pages (/wall, /console, /field) and their static assets. The pages talk to the
API only: they log in through /api/auth/token and receive live events over /ws."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

STATIC = Path(__file__).with_name("static")
PAGES = ("wall", "console", "field")
_NO_CACHE = {"Cache-Control": "no-cache"}

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/")
def index() -> RedirectResponse:
    """The district wall display is the front page."""
    return RedirectResponse("/wall")


def _add_page(name: str) -> None:
    def serve() -> FileResponse:
        return FileResponse(STATIC / f"{name}.html", headers=_NO_CACHE)

    serve.__doc__ = f"The {name} page: a login form until it holds a token (the wall also takes ?token=)."
    router.add_api_route(f"/{name}", serve, methods=["GET"], response_class=FileResponse, name=f"page_{name}")


for _name in PAGES:
    _add_page(_name)


@router.get("/static/{name}")
def asset(name: str) -> FileResponse:
    """A static asset of the pages (one flat folder, so no path can leave it)."""
    path = STATIC / name
    if "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
        raise HTTPException(404, f"no asset {name!r}")
    return FileResponse(path, headers=_NO_CACHE)
