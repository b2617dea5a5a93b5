"""个人中心 in chromium: reached from the user menu, recent logins, changing one's password."""

from __future__ import annotations

import pytest

from app.services import user_accounts

from .conftest import login

pytestmark = pytest.mark.browser
NEW_PASSWORD = "Quiet-river-77"


def test_profile_from_the_user_menu_and_password_change(page, demo_users, artifacts):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto("/login")
    page.fill("#username", "dhliaison")
    page.fill("#password", "wrong-password1")
    page.click("button[type=submit]")
    page.get_by_text("用户名或密码错误").wait_for()
    login(page, "dhliaison", user_accounts.DEMO_PASSWORD)
    page.click(".user-menu")
    page.get_by_role("link", name="个人中心").wait_for()
    page.screenshot(path=str(artifacts / "account_user_menu.png"))
    page.get_by_role("link", name="个人中心").click()
    page.wait_for_url("**/account")
    assert page.locator("h1.page-title").inner_text() == "个人中心"
    assert page.get_by_text("区派联络员").first.is_visible()
    rows = page.locator("[data-recent-logins] tbody tr")
    assert rows.count() == 2
    assert "成功" in rows.nth(0).inner_text() and "失败" in rows.nth(1).inner_text()
    page.screenshot(path=str(artifacts / "account_profile.png"), full_page=True)

    page.get_by_role("link", name="修改密码").click()
    page.wait_for_url("**/account/password")
    page.fill("#f-current", user_accounts.DEMO_PASSWORD)
    page.fill("#f-password", "password1")
    page.fill("#f-password2", "password1")
    page.get_by_role("button", name="保存新密码").click()
    page.locator("#e-password").wait_for()
    assert "常见弱密码" in page.locator("#e-password").inner_text()
    page.screenshot(path=str(artifacts / "account_password_error.png"), full_page=True)

    page.fill("#f-current", user_accounts.DEMO_PASSWORD)
    page.fill("#f-password", NEW_PASSWORD)
    page.fill("#f-password2", NEW_PASSWORD)
    page.get_by_role("button", name="保存新密码").click()
    page.wait_for_url("**/account")
    assert page.get_by_text("密码已修改").is_visible()
    page.set_viewport_size({"width": 390, "height": 780})
    page.screenshot(path=str(artifacts / "account_profile_phone.png"), full_page=True)
    # the 401 of the wrong password and the 422 of the refused form are expected statuses
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []
