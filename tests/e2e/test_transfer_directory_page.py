"""End to end in headless Chromium, without a PBX: the admin page's transfer directory.

An admin adds a queue target (tier 2, the escalation target of its tier) and sees it in the
list, grouped by tier, in both languages; edits its label; edits it again while another admin
changes it through the API, is told so with the other admin's values in the form and puts
their own change back on top before saving; disables it; and deletes it after a confirmation
(a dismissed one keeps it). A target the PBX could not reach (a phone that is not an
interface) and a slug that is taken are refused with the field marked, and nothing changes. A
supervisor, who may edit teams but not the directory, sees no tab for it.

Set CALLCENTER_SHOTS to a folder to keep screenshots of the tab in both languages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.e2e.pages import PAGE_PROBLEMS, log_in, shoot
from tests.service_proc import ServiceProcess, UserSpec
from tests.supervisor.helpers import PASSWORD
from tests.supervisor.helpers import Browser as Client

USERS = [
    ("boss", "admin", "管理员老周"),
    ("boss2", "admin", "管理员小吴"),
    ("lead", "supervisor", "班长老陈"),
]
TIMEOUT = 10_000
# Targets another admin keeps in the directory: first line and management, around the new one.
FRONTLINE = {
    "slug": "frontline",
    "label_zh": "一线客服",
    "label_en": "First line",
    "tier": 1,
    "kind": "queue",
    "queue": "support",
}
MANAGEMENT = {
    "slug": "duty-manager",
    "label_zh": "值班经理",
    "label_en": "Duty manager",
    "tier": 3,
    "kind": "external",
    "number": "+8613800138000",
    "trunk_context": "from-trunk",
    "escalation": True,
}
# The page's own words (full-width quotes and brackets, as Chinese is written).
ADDED = "转接目标“售后服务组”已添加"
REAPPLIED = "您的修改已放回表单（基于最新版本），请检查后保存。"  # noqa: RUF001
STALE_ZH = "未保存：其他管理员在您编辑期间修改了 aftersales（现为版本 3）"  # noqa: RUF001
DISABLED = "转接目标“售后专家组”已停用"
DELETED = "转接目标“售后专家组”已删除"
INCOMPLETE_ZH = "按所选类型无法接通该目标，请检查标出的字段。"  # noqa: RUF001
EXISTS_ZH = "已有相同标识的转接目标。"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        tmp_path_factory.mktemp("transfer-directory"), pbx=[], log_level="INFO"
    )
    process.add_users(PASSWORD, [UserSpec(username, role, name) for username, role, name in USERS])
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def other(service: ServiceProcess) -> Client:
    """Another admin, working through the API."""
    client = Client(service.base_url).login("boss2")
    for target in (FRONTLINE, MANAGEMENT):
        status, body = client.call("POST", "/api/transfer-targets", target)
        assert status == 201, body
    return client


def directory(client: Client) -> dict[str, dict[str, Any]]:
    status, body = client.call("GET", "/api/transfer-targets")
    assert status == 200, body
    return {t["slug"]: t for t in body["targets"]}


def directory_page(browser: Browser, service: ServiceProcess) -> Page:
    page = log_in(browser, service, "/admin", "boss")
    tab = page.locator("#tab-transfers")
    expect(tab).to_be_visible(timeout=TIMEOUT)
    expect(tab).to_have_text("转接目录")
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    expect(page.locator("#panel-transfers")).to_be_visible()
    expect(page.locator('#targets-table tr[data-slug="frontline"]')).to_be_visible(timeout=TIMEOUT)
    return page


def test_an_admin_adds_edits_disables_and_deletes_a_target(
    service: ServiceProcess, browser: Browser, other: Client
) -> None:
    page = directory_page(browser, service)
    form = page.locator("#target-form")

    # A queue target of tier 2, the one "escalate" picks there; the fields follow the kind.
    page.click("#new-target")
    expect(form).to_be_visible()
    expect(page.locator("#target-form-title")).to_have_text("新建转接目标")
    expect(page.locator("#target-slug")).to_be_focused()
    page.fill("#target-slug", "aftersales")
    page.fill("#target-label-zh", "售后服务组")
    page.fill("#target-label-en", "After-sales")
    expect(page.locator("#target-tier")).to_have_value("2")
    expect(page.locator("#target-tier option:checked")).to_have_text("第 2 级 · 专家组")
    for kind, shown, hidden in (
        ("interfaces", ["#target-interfaces"], ["#target-queue", "#target-number"]),
        ("external", ["#target-number", "#target-trunk"], ["#target-queue"]),
        ("queue", ["#target-queue"], ["#target-interfaces", "#target-number", "#target-trunk"]),
    ):
        page.select_option("#target-kind", kind)
        for field in shown:
            expect(page.locator(field)).to_be_visible()
        for field in hidden:
            expect(page.locator(field)).to_be_hidden()
    expect(page.locator("#target-queue")).to_have_accessible_name("队列")
    page.fill("#target-queue", "aftersales")
    page.check("#target-escalation")
    shoot(page, "admin-transfer-directory-new")
    page.click("#target-save")

    row = page.locator('#targets-table tbody[data-tier="2"] tr[data-slug="aftersales"]')
    expect(row.locator("th")).to_have_text("售后服务组", timeout=TIMEOUT)
    expect(row.locator("td.kind")).to_have_text("队列")
    expect(row.locator("td.destination")).to_have_text("队列 aftersales")
    expect(row.locator("td.escalation")).to_have_text("↑ 升级目标")
    expect(row.locator("td.state")).to_have_text("已启用")
    expect(page.locator("#result")).to_have_text(ADDED)
    expect(form).to_be_hidden()
    # By tier, first line first, each group headed by its tier.
    tiers = page.locator("#targets-table tbody")
    expect(tiers).to_have_count(3)
    expect(page.locator("#targets-table tr.tier-head th")).to_have_text(
        [
            re.compile("^第 1 级 · 一线"),
            re.compile("^第 2 级 · 专家组"),
            re.compile("^第 3 级 · 管理层"),
        ]
    )
    manager = page.locator('#targets-table tbody[data-tier="3"] tr[data-slug="duty-manager"]')
    expect(manager.locator("td.destination")).to_have_text("+8613800138000（经 from-trunk）")  # noqa: RUF001
    stored = directory(other)["aftersales"]
    assert stored == {
        "slug": "aftersales",
        "label_zh": "售后服务组",
        "label_en": "After-sales",
        "tier": 2,
        "kind": "queue",
        "pbx": None,
        "queue": "aftersales",
        "interfaces": [],
        "number": None,
        "trunk_context": None,
        "escalation": True,
        "enabled": True,
        "version": 1,
    }
    shoot(page, "admin-transfer-directory")
    page.click("#lang")
    expect(row.locator("th")).to_have_text("After-sales")
    expect(row.locator("td.destination")).to_have_text("queue aftersales")
    expect(row.locator("td.escalation")).to_have_text("↑ escalation")
    expect(page.locator("#tab-transfers")).to_have_text("Transfer directory")
    expect(page.locator('#targets-table tbody[data-tier="2"] tr.tier-head th')).to_have_text(
        "Tier 2 · Specialist teams · 1 target"
    )
    expect(page.locator("#result")).to_have_text("Target “After-sales” added")
    page.click("#lang")

    # Its label, edited: the slug stays as it is.
    row.locator("button.edit").click()
    expect(page.locator("#target-form-title")).to_have_text("编辑转接目标 aftersales")
    expect(page.locator("#target-slug")).to_have_value("aftersales")
    expect(page.locator("#target-slug")).not_to_be_editable()
    expect(page.locator("#target-label-zh")).to_be_focused()
    expect(page.locator("#target-queue")).to_have_value("aftersales")
    expect(page.locator("#target-escalation")).to_be_checked()
    page.fill("#target-label-zh", "售后二线")
    page.click("#target-save")
    expect(row.locator("th")).to_have_text("售后二线", timeout=TIMEOUT)
    stored = directory(other)["aftersales"]
    assert (stored["label_zh"], stored["version"]) == ("售后二线", 2)

    # Edited again while another admin changes it: nothing is overwritten; the form shows
    # what they stored, and the admin's own change goes back on top of it.
    row.locator("button.edit").click()
    theirs = {k: v for k, v in stored.items() if k != "slug"}
    theirs |= {"label_en": "After-sales desk", "escalation": False}
    status, body = other.call("PUT", "/api/transfer-targets/aftersales", theirs)
    assert status == 200, body
    page.fill("#target-label-zh", "售后专家组")
    page.click("#target-save")
    conflict = page.locator("#target-conflict")
    expect(conflict).to_be_visible(timeout=TIMEOUT)
    expect(conflict).to_contain_text(STALE_ZH)
    expect(conflict.locator(".conflict-head")).to_be_focused()
    expect(page.locator("#result")).to_be_empty()  # no earlier "saved" left to mislead
    expect(conflict.locator('ul.theirs li[data-field="label_en"]')).to_have_text(
        "英文名：After-sales → After-sales desk"  # noqa: RUF001
    )
    expect(conflict.locator('ul.theirs li[data-field="escalation"]')).to_have_text(
        "升级目标：是 → 否"  # noqa: RUF001
    )
    expect(conflict.locator("ul.mine li")).to_have_text(["中文名：售后专家组"])  # noqa: RUF001
    expect(page.locator("#target-label-zh")).to_have_value("售后二线")
    expect(page.locator("#target-label-en")).to_have_value("After-sales desk")
    expect(page.locator("#target-escalation")).not_to_be_checked()
    expect(row.locator("td.escalation")).to_have_text("—")  # the list is read again too
    assert directory(other)["aftersales"]["label_zh"] == "售后二线"
    shoot(page, "admin-transfer-directory-stale")
    page.click("#lang")
    expect(conflict).to_contain_text("Not saved: another admin changed aftersales")
    expect(conflict.locator('ul.theirs li[data-field="escalation"]')).to_have_text(
        "Escalation: yes → no"
    )
    expect(page.locator("#target-reapply")).to_have_text("Re-apply my changes")
    page.click("#lang")
    page.click("#target-reapply")
    expect(conflict).to_be_hidden()
    expect(page.locator("#target-label-zh")).to_have_value("售后专家组")
    expect(page.locator("#target-label-en")).to_have_value("After-sales desk")
    expect(page.locator("#result")).to_have_text(REAPPLIED)
    expect(page.locator("#target-save")).to_be_focused()
    page.click("#target-save")
    expect(row.locator("th")).to_have_text("售后专家组", timeout=TIMEOUT)
    stored = directory(other)["aftersales"]
    assert (stored["label_zh"], stored["label_en"], stored["escalation"], stored["version"]) == (
        "售后专家组",
        "After-sales desk",
        False,
        4,
    )

    # Disabled: still listed, marked so.
    toggle = row.locator("button.toggle")
    expect(toggle).to_have_text("停用")
    expect(toggle).to_have_accessible_name("停用 售后专家组")
    toggle.click()
    expect(row.locator("td.state")).to_have_text("已停用", timeout=TIMEOUT)
    expect(row).to_have_class("inactive")
    expect(toggle).to_have_text("启用")
    expect(toggle).to_be_focused()
    expect(page.locator("#result")).to_have_text(DISABLED)
    stored = directory(other)["aftersales"]
    assert (stored["enabled"], stored["version"]) == (False, 5)
    shoot(page, "admin-transfer-directory-disabled")

    # Deleted after a confirmation; a dismissed one keeps it.
    asked: list[str] = []

    def answer(accept: bool) -> Any:
        def on_dialog(dialog: Dialog) -> None:
            asked.append(dialog.message)
            if accept:
                dialog.accept()
            else:
                dialog.dismiss()

        return on_dialog

    page.once("dialog", answer(False))
    row.locator("button.delete").click()
    page.wait_for_timeout(300)
    assert asked == ["确认从转接目录删除“售后专家组”（aftersales）？坐席将不能再转接到它。"]  # noqa: RUF001
    expect(row).to_be_visible()
    assert "aftersales" in directory(other)
    page.once("dialog", answer(True))
    row.locator("button.delete").click()
    expect(row).to_have_count(0, timeout=TIMEOUT)
    expect(page.locator("#result")).to_have_text(DELETED)
    expect(page.locator("#new-target")).to_be_focused()
    assert set(directory(other)) == {"frontline", "duty-manager"}
    assert PAGE_PROBLEMS == []


def test_a_target_the_pbx_cannot_reach_is_refused_and_nothing_changes(
    service: ServiceProcess, browser: Browser, other: Client
) -> None:
    before = directory(other)
    page = directory_page(browser, service)
    rows = page.locator("#targets-table tr[data-slug]")
    expect(rows).to_have_count(len(before))
    page.click("#lang")  # this time in English
    expect(page.locator("#new-target")).to_have_text("New target")

    page.click("#new-target")
    page.fill("#target-slug", "helpdesk")
    page.fill("#target-label-zh", "技术支持")
    page.fill("#target-label-en", "Help desk")
    page.select_option("#target-tier", "1")
    page.select_option("#target-kind", "interfaces")
    page.fill("#target-interfaces", "PJSIP/2001, notaphone")
    page.click("#target-save")
    error = page.locator("#target-form .form-error")
    expect(error).to_contain_text(
        "The target cannot be reached as its kind says: check the marked field.", timeout=TIMEOUT
    )
    expect(error).to_contain_text("(400) Server: ")
    expect(error).to_contain_text("'notaphone' is not an interface")
    phones = page.locator("#target-interfaces")
    expect(phones).to_have_attribute("aria-invalid", "true")
    expect(phones).to_be_focused()
    expect(page.locator("#target-form")).to_be_visible()
    shoot(page, "admin-transfer-directory-refused")
    page.click("#lang")  # the refusal follows the language
    expect(error).to_contain_text(INCOMPLETE_ZH)
    expect(error).to_contain_text("服务器：")  # noqa: RUF001
    assert directory(other) == before
    expect(rows).to_have_count(len(before))

    # A slug that is taken: refused too, the slug marked.
    page.fill("#target-slug", "frontline")
    page.fill("#target-interfaces", "PJSIP/2001 PJSIP/2002")
    page.click("#target-save")
    expect(error).to_contain_text(EXISTS_ZH, timeout=TIMEOUT)
    expect(page.locator("#target-slug")).to_have_attribute("aria-invalid", "true")
    expect(phones).not_to_have_attribute("aria-invalid", "true")
    assert directory(other) == before
    expect(page.locator('#targets-table tr[data-slug="frontline"] th')).to_have_text("一线客服")

    # Put right, it is stored: both phones, in tier 1.
    page.fill("#target-slug", "helpdesk")
    page.click("#target-save")
    row = page.locator('#targets-table tbody[data-tier="1"] tr[data-slug="helpdesk"]')
    expect(row.locator("td.destination")).to_have_text("PJSIP/2001, PJSIP/2002", timeout=TIMEOUT)
    expect(row.locator("td.kind")).to_have_text("话机")
    expect(error).to_be_empty()
    stored = directory(other)["helpdesk"]
    assert (stored["kind"], stored["interfaces"], stored["tier"]) == (
        "interfaces",
        ["PJSIP/2001", "PJSIP/2002"],
        1,
    )
    status, body = other.call("DELETE", "/api/transfer-targets/helpdesk")
    assert status == 200, body
    assert PAGE_PROBLEMS == []


def test_a_supervisor_sees_no_transfer_directory(service: ServiceProcess, browser: Browser) -> None:
    page = log_in(browser, service, "/admin#transfers", "lead")
    expect(page.locator("#tab-teams")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#tab-transfers")).to_be_hidden()
    expect(page.locator("#panel-transfers")).to_be_hidden()
    expect(page.locator("#panel-teams")).to_be_visible()  # the first tab they may open
    status, body = Client(service.base_url).login("lead").call("GET", "/api/transfer-targets")
    assert (status, body["error"]) == (403, "forbidden")
    assert PAGE_PROBLEMS == []
