"""/api/docs/ works without the internet: a real Chromium that may reach nothing but Maestro
renders Swagger UI with every operation of the published schema."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import sign_in_as_operator

pytestmark = pytest.mark.postgres
SHOTS = Path(os.environ.get("MAESTRO_SCREENSHOT_DIR", "var/screenshots"))


def test_the_docs_render_offline(live_asgi, browser_page):
    # given: the browser is signed in (the schema needs a credential) and cut off from the internet
    page = browser_page
    maestro = urlsplit(live_asgi).netloc
    outside: list[str] = []

    def only_maestro(route):  # type: ignore[no-untyped-def]
        if urlsplit(route.request.url).netloc == maestro or route.request.url.startswith("data:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_maestro)
    sign_in_as_operator(page, live_asgi)
    # when
    page.goto(f"{live_asgi}/api/docs/")
    page.wait_for_selector(".opblock", timeout=20_000)
    # then
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "api-docs.png"))
    assert outside == []
    assert page.locator(".opblock").count() >= 70
    assert page.locator(".title").first.inner_text().startswith("Maestro API")
