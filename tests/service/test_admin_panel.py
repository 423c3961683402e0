"""The search page's admin panel as served: hidden until opened, its script loaded, and nothing of
the server's written as markup (the browser test in test_browser.py drives it)."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from shoprank.service import create_app


@pytest.fixture(scope="module")
def client(fake_engine):
    return TestClient(create_app(fake_engine))  # static files only: no start-up (lifespan) needed


def test_the_panel_is_hidden_until_the_admin_link_opens_it(client):
    html = client.get("/").text
    panel = re.search(r'<aside id="admin"[^>]*>', html)
    assert panel and " hidden" in panel.group(0) and 'role="dialog"' in panel.group(0)
    assert re.search(r'<button type="button" class="admin-link" id="admin-open"[^>]*aria-controls="admin"', html)
    assert '<script src="static/admin.js"></script>' in html


def test_the_panel_script_keeps_the_key_in_the_tab_and_writes_text_only(client):
    js = client.get("/static/admin.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in js.text and "insertAdjacentHTML" not in js.text and "document.write" not in js.text
    assert "localStorage" not in js.text and "sessionStorage" in js.text
    assert '"X-API-Key"' in js.text


def test_the_analytics_page_lists_suggested_synonyms_to_approve(client):
    assert 'id="suggested"' in client.get("/analytics").text
    js = client.get("/static/analytics.js").text
    assert "admin/synonyms:suggested" in js and '"PUT"' in js and "innerHTML" not in js
