"""/api/docs/ works without the internet: a real Chromium that may reach nothing but Maestro
renders Swagger UI with every operation of the published schema."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model

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
    get_user_model().objects.create_superuser("ops", "", "correct-horse-9")
    page.goto(f"{live_asgi}/admin/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "correct-horse-9")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_asgi}/admin/")
    # when
    page.goto(f"{live_asgi}/api/docs/")
    page.wait_for_selector(".opblock", timeout=20_000)
    # then
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "api-docs.png"))
    assert outside == []
    assert page.locator(".opblock").count() >= 70
    assert page.locator(".title").first.inner_text().startswith("Maestro API")
