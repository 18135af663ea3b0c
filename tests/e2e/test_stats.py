"""The street office reads its figures: scope and period, charts with their tables, the workbook, the report.

The demo street (two years of ledger, volunteer posts, contact households and teams) gives the
figures page what a street office would show its superiors.
"""
from __future__ import annotations

import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from sqlalchemy import select

from qscore.db import db
from qscore.demo import DEMO_PASSWORD
from qscore.models import User

from ..conftest import load_demo_street, truncate_all
from .conftest import screenshot

pytestmark = pytest.mark.e2e

@pytest.fixture(scope="module")
def demo(live_app):
    load_demo_street(live_app)
    yield live_app
    with live_app.app_context():
        truncate_all()
    live_app.extensions.pop("qscore_setup_done", None)


def test_street_admin_reads_the_figures(page, demo, login, a11y, tmp_path):
    login("street", DEMO_PASSWORD)
    page.get_by_role("link", name="统计").click()
    expect(page.get_by_role("heading", name="统计", exact=True)).to_be_visible()
    figures = page.locator("#figures")
    expect(figures.get_by_role("heading", level=2).first).to_contain_text("示范街道")
    trend = page.get_by_role("img", name=re.compile("^(Participation and attendance|逐月参与率)"))
    expect(trend).to_be_visible()
    expect(page.locator("#chart-branches")).to_be_visible()
    expect(page.locator("#chart-grades")).to_be_visible()
    # Each figure explains itself on hover and leads to the members behind it.
    participation = page.locator(".figure-participation")
    expect(participation.locator("abbr")).to_have_attribute("title", re.compile("Z"))
    expect(participation.locator(".figure-value")).to_have_text(re.compile(r"^\d+\.\d%$"))
    a11y.check(page)
    screenshot(page, "figures")

    # Switch the scope: the figures are swapped in place (htmx), the address follows.
    page.get_by_label(re.compile("^(Scope|范围)$")).select_option(label="前进社区")
    expect(figures.get_by_role("heading", level=2).first).to_contain_text("前进社区")
    expect(page).to_have_url(re.compile(r"scope=community-\d+"))
    expect(page.locator("#chart-branches .tick.cat")).to_have_count(4)
    a11y.check(page)

    # Two years side by side.
    page.get_by_label(re.compile("^(Period|期间)$")).select_option("2025+2026")
    expect(page.locator(".figure-participation .figure-compare")).to_contain_text("2025")
    expect(page.get_by_role("img", name=re.compile("^(Participation and attendance|逐月参与率)"))).to_be_visible()
    expect(page.locator("#chart-trend .line.prev").first).to_be_attached()
    a11y.check(page)
    screenshot(page, "figures-compare")

    # A quarter, and the workbook of every table.
    page.get_by_label(re.compile("^(Period|期间)$")).select_option("2026-Q1")
    workbook_link = page.get_by_role("link", name=re.compile("Excel"))
    expect(workbook_link).to_have_attribute("href", re.compile("period=2026-Q1"))
    with page.expect_download() as info:
        workbook_link.click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx") and "2026-Q1" in download.suggested_filename
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    wb = load_workbook(path)
    assert len(wb.sheetnames) == 6
    summary = list(wb.worksheets[0].iter_rows(min_row=4, values_only=True))
    members = summary[0][1]
    assert isinstance(members, int) and members > 50
    participation_row = summary[1]
    assert 0 < participation_row[1] <= 100 and participation_row[3] == members
    branches = list(wb.worksheets[1].iter_rows(min_row=2, values_only=True))
    assert len(branches) == 4 and all(r[0] == "前进社区" for r in branches)

    # The members behind a figure.
    page.locator(".figure-participation .figure-link").click()
    expect(page.get_by_role("table")).to_be_visible()
    a11y.check(page)


def test_the_quarterly_report_fits_one_page(page, demo, login, a11y):
    login("street", DEMO_PASSWORD)
    page.goto("/stats/report?period=2026-Q1")
    expect(page.get_by_role("heading", level=1)).to_contain_text("2026")
    a11y.check(page)
    screenshot(page, "figures-report")
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", print_background=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1


def test_a_secretary_confirms_a_month_of_duty(page, demo, login, a11y):
    with demo.app_context():
        username = db.session.scalar(select(User.username).where(User.role == "branch_secretary")
                                     .order_by(User.username).limit(1))
    login(username, DEMO_PASSWORD)
    page.goto("/service/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    a11y.check(page)
    page.get_by_role("link", name=re.compile("Confirm who served|在岗情况")).first.click()
    boxes = page.locator("input[name=post_ids]")
    expect(boxes.first).to_be_visible()
    total = boxes.count()
    page.get_by_role("button", name=re.compile("Tick all|勾选全部")).click()
    a11y.check(page)
    page.get_by_role("button", name=re.compile("Confirm the ticked|确认勾选")).click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("input[name=post_ids]")).to_have_count(0)
    expect(page.locator(".served")).to_have_count(total)
    screenshot(page, "service-duty")


def test_monthly_assessment_and_the_service_pages(page, demo, login, a11y):
    login("community1", DEMO_PASSWORD)
    page.goto("/assessment/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("前进社区")
    a11y.check(page)
    page.get_by_role("table").first.get_by_role("link").first.click()
    expect(page.locator("table.assessment")).to_be_visible()
    a11y.check(page)
    screenshot(page, "assessment-branch")
    page.goto("/service/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("前进社区")
    a11y.check(page)
    page.locator("#teams").get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("志愿服务队")
    a11y.check(page)
    page.go_back()
    page.locator("main").get_by_role("link", name=re.compile("posts and households|奉献岗|联系户")).first.click()
    expect(page.locator("#members-title")).to_be_visible()
    a11y.check(page)
    screenshot(page, "service-branch")


def test_a_member_declares_a_post_from_the_booklet_fragment(page, demo, login, a11y):
    with demo.app_context():
        member_id = db.session.scalar(select(User.member_id).where(User.username == "member1"))
    login("member1", DEMO_PASSWORD)
    page.goto(f"/service/members/{member_id}/declare")
    section = page.locator("#service-declare")
    expect(section.get_by_role("heading", level=2)).to_be_visible()
    a11y.check(page)
    before = section.locator(".status-pending").count()
    section.get_by_role("button", name=re.compile("Declare household|申报联系户")).click()   # empty: refused
    expect(section.locator(".field-errors")).to_be_visible()
    section.locator("input[name=label]").fill("幸福路 8 号 2 单元")
    section.get_by_role("button", name=re.compile("Declare household|申报联系户")).click()
    expect(section.locator(".status-pending")).to_have_count(before + 1)
    a11y.check(page)
