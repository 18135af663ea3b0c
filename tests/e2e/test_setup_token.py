"""First run in a browser: the setup code from the printed link, a wrong code, the demo's button with the code."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ..conftest import read_setup_token
from .conftest import screenshot

pytestmark = pytest.mark.e2e


def test_a_wrong_code_is_refused_and_the_demo_button_uses_the_code_field(page, fresh_db, a11y):
    token = read_setup_token(fresh_db)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    code = page.get_by_label("设置码")
    expect(code).to_have_value("")  # came without the printed link
    a11y.check(page)
    code.fill("guessed-code")
    page.get_by_role("button", name="使用演示街道体验").click()
    expect(page.get_by_text("设置码不正确")).to_be_visible()
    expect(page.get_by_role("button", name="使用演示街道体验")).to_be_visible()
    a11y.check(page)
    screenshot(page, "setup-wrong-code")
    # Now as the person who started the server: the printed link fills the field in.
    page.goto(f"/setup?token={token}")
    expect(code).to_have_value(token)
    screenshot(page, "setup-with-code")
    page.get_by_role("button", name="使用演示街道体验").click()
    expect(page).to_have_url(re.compile(r"/login$"), timeout=120_000)  # building the demo street takes a while
    expect(page.get_by_text("演示街道已载入")).to_be_visible()
    assert not Path(fresh_db.config["SETUP_TOKEN_FILE"]).exists()
