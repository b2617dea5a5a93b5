"""Drive the real login form in chromium and keep screenshots of the shell for review."""

from __future__ import annotations

import pytest

from app.services import user_accounts

from .conftest import login

pytestmark = pytest.mark.browser


def test_city_admin_home_and_users_page(page, demo_users, artifacts):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    login(page, "city", user_accounts.DEMO_PASSWORD)
    assert page.locator(".user-name").inner_text() == "市科技局管理员"
    assert page.locator("#inbox").is_visible()
    assert page.locator(".sidebar-menu").get_by_text("系统管理").is_visible()
    page.screenshot(path=str(artifacts / "home_city_admin.png"), full_page=True)

    page.locator(".sidebar-menu").get_by_text("系统管理").click()
    page.locator(".sidebar-menu").get_by_text("用户管理").click()
    page.wait_for_url("**/admin/users")
    rows = page.locator("table tbody tr")
    assert rows.count() == 7
    assert page.get_by_text("共 7 条").is_visible()
    page.screenshot(path=str(artifacts / "admin_users.png"), full_page=True)
    assert errors == []  # no CSP violations or script errors


def test_wrong_password_shows_chinese_error_and_phone_layout(page, demo_users, artifacts):
    page.set_viewport_size({"width": 390, "height": 780})
    page.goto("/login")
    page.fill("#username", "city")
    page.fill("#password", "wrong-password1")
    page.click("button[type=submit]")
    assert page.get_by_text("用户名或密码错误").is_visible()
    login(page, "dhadmin", user_accounts.DEMO_PASSWORD)
    assert not page.locator("#sidebar").is_visible()  # offcanvas at phone width
    page.click("button[aria-controls=sidebar]")
    page.locator("#sidebar.show").wait_for()
    page.locator("#sidebar").get_by_text("需求管理").click()
    page.locator("#sidebar .collapse.show").get_by_text("需求审核").wait_for(state="visible")
    assert page.locator("#sidebar").get_by_text("系统管理").count() == 0
    page.screenshot(path=str(artifacts / "home_phone_menu.png"))
