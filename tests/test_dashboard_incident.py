"""The incident page over real HTTP: facts in the interface's language, brand names kept with the data."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from crisiswatch.audit import AuditLog
from crisiswatch.config import parse_config
from crisiswatch.db import connect
from crisiswatch.localtime import local_time
from crisiswatch.mention import Mention
from index import open_backend
from index.base import MentionFilter
from monitor.dashboard.i18n import TEXT
from monitor.dashboard.i18n_events import EVENTS
from monitor.dashboard.incident_page import golden_window
from monitor.detectors.base import Signal
from monitor.enrich.steps import BrandStep
from monitor.incidents.service import IncidentService
from playbooks.statements import StatementStore
from tests.browser.dashboard_site import (
    TASKS,
    browser_login,
    build_site,
    chromium_page,
    login,
    serve,
    site_config,
)

# names the code uses inside; none may reach the page
INTERNAL = ("tasks_added", "departments_added", "task_done", "negative_spike", "incident.", "ticket.", "step.",
            "['", "p=", "negative mentions", "expected", "None")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("incident"))


@pytest.fixture(scope="module")
def base(site):
    with serve(site) as url:
        yield url


def _text(html: str) -> str:
    main = html[html.index("<main"):html.index("</main>")]
    main = re.sub(r"<script.*?</script>", " ", main, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def _window_posts(site) -> list[Mention]:
    backend = open_backend(site.config.index.url)
    try:
        return list(backend.scan(MentionFilter(brand="aurora")))
    finally:
        backend.close()


def test_incident_page_reads_in_chinese_from_facts(site, base):
    html = login(base, "viv").get(f"{base}/incidents/{site.incident_id}", timeout=20).text
    text = _text(html)
    assert "极光优选" in text and f"INC-{site.incident_id}" in text and "紧急" in text
    assert "1 分钟内负面帖 24 条，平时同样时长约 0.4 条（60 倍）；偶然出现这种情况的概率不到百万分之一" in text
    assert "lin" in text and "待审批" in text  # acknowledged by whom; the statement's state
    for line in ("已发送告警", "开立工单", "添加任务 2 项", f"完成任务：{TASKS[0]}", "lin 确认了事件", "声明草稿已起草",
                 "事件开启，级别：严重"):
        assert line in text, line
    assert TASKS[1] in text and "待办" in text and "已完成" in text
    assert not [word for word in INTERNAL if word in text]


def test_the_top_post_is_the_widest_reaching_with_its_full_text(site, base):
    html = login(base, "viv").get(f"{base}/incidents/{site.incident_id}", timeout=20).text
    negative = [m for m in _window_posts(site) if m.sentiment_band == "negative"
                and m.created_at >= site.now - timedelta(minutes=70)]
    widest = max(negative, key=lambda m: (m.author.followers, m.created_at, m.id))
    first = html[html.index('id="top-posts"'):]
    first = first[:first.index("</article>")]
    assert f'href="/mentions/{widest.id}"' in first and widest.text in first


def _golden(html: str) -> str:
    """The golden-window box of the header: its <b> element and the small print after it."""
    head = html[html.rindex("<b", 0, html.index('id="inc-golden"')):]
    return head[:head.index("</small>")]


def test_a_statement_approved_in_time_but_published_late_shows_its_publication_and_the_missed_window(tmp_path):
    """The golden window is judged by when the statement went out, not when it was approved."""
    site = build_site(tmp_path)
    conn = connect(site.db)
    opened = IncidentService(conn).get(site.incident_id).opened_at
    approved, published = opened + timedelta(minutes=10), opened + timedelta(minutes=30)
    # a 20-minute window: approved inside it, published ten minutes after it closed
    conn.execute("UPDATE statements SET window_minutes=20, status='published', decided_by='pr-lead', decided_at=?,"
                 " published_by='pr-lead', published_at=?", (approved.isoformat(), published.isoformat()))
    statements = StatementStore(conn).all(site.incident_id)
    golden = golden_window(IncidentService(conn).get(site.incident_id), "紧急", statements)
    assert golden.published_at == published and golden.missed
    conn.close()
    with serve(site) as base:
        html = login(base, "viv").get(f"{base}/incidents/{site.incident_id}", timeout=20).text
    shown = _golden(html)
    zone = site.config.alerts.timezone
    assert local_time(published, zone) in shown and local_time(approved, zone) not in shown
    assert 'class="bad"' in shown and "超出黄金时间" in shown
    assert "pr-lead 发布了声明，已超出黄金时间" in _text(html)


def test_a_statement_published_in_time_is_on_time_and_nothing_published_after_the_window_is_overdue(tmp_path):
    site = build_site(tmp_path)
    conn = connect(site.db)
    opened = IncidentService(conn).get(site.incident_id).opened_at
    conn.execute("UPDATE statements SET window_minutes=20")  # closed 20 minutes ago, nothing published
    conn.close()
    with serve(site) as base:
        s = login(base, "viv")
        overdue = _golden(s.get(f"{base}/incidents/{site.incident_id}", timeout=20).text)
        conn = connect(site.db)
        conn.execute("UPDATE statements SET status='published', decided_at=?, published_by='pr-lead', published_at=?",
                     ((opened + timedelta(minutes=5)).isoformat(), (opened + timedelta(minutes=15)).isoformat()))
        conn.close()
        on_time = _golden(s.get(f"{base}/incidents/{site.incident_id}", timeout=20).text)
    assert 'class="countdown late"' in overdue and "已超时" in overdue
    assert 'class="ok"' in on_time and "超出黄金时间" not in on_time
    assert local_time(opened + timedelta(minutes=15), site.config.alerts.timezone) in on_time


def test_unknown_incident_is_not_found(base):
    s = login(base, "viv")
    assert s.get(f"{base}/incidents/999999", timeout=10).status_code == 404
    assert s.get(f"{base}/incidents/abc", timeout=10).status_code == 404


def test_brand_display_names_are_kept_with_the_data(tmp_path):
    """`serve --db` without the brand config still shows 极光优选: enrichment stored the name with the data."""
    site = build_site(tmp_path)
    conn = connect(site.db)
    BrandStep(site.config, conn)  # what every crawl with the config does when it starts enriching
    conn.close()
    site.config = parse_config({"state_db": str(site.db), "index": {"url": f"sqlite:///{site.db}"}},
                               str(tmp_path / "crisiswatch.yaml"))
    assert site.config.brands == [] and site_config(site.db).brands
    with serve(site) as base:
        s = login(base, "viv")
        overview = s.get(f"{base}/api/overview", timeout=20).json()
        page = s.get(f"{base}/incidents/{site.incident_id}", timeout=20).text
    assert overview["brand_names"]["aurora"] == "极光优选"
    assert '<span id="inc-brand">极光优选</span>' in page


def test_one_script_throughout():
    """Simplified Chinese only: every Chinese character of the interface is in GB 2312 (no 輿, 處, 時...)."""
    texts = [v["zh"] for v in TEXT.values()] + [zh for zh, _ in EVENTS.values()]
    hanzi = {ch for text in texts for ch in text if "\u4e00" <= ch <= "\u9fff"}
    traditional = sorted(ch for ch in hanzi if not _in_gb2312(ch))
    assert hanzi and traditional == []
    assert not _in_gb2312("輿") and _in_gb2312("舆")  # the check itself tells the scripts apart


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True



def test_an_acknowledgement_and_an_escalation_appear_on_the_open_incident_page(tmp_path):
    """The PR lead keeps the incident page open: the on-call's acknowledgement and the next escalation step
    showed only after a reload by hand; the page now redraws itself when what is being done changes."""
    site = build_site(tmp_path)
    conn = connect(site.db)
    incidents = IncidentService(conn)
    opened = incidents.apply(Signal(
        rule="complaint_surge", key="beichen", brand="beichen", level="warning", at=datetime.now(UTC),
        value=9, baseline=1.0, p_value=1e-4, summary="9 complaints in 10 min vs 1.0 expected",
        facts={"negative": 9, "total": 12, "expected": 1.0, "ratio": 9.0, "p_value": 1e-4, "minutes": 10})).incident
    with serve(site) as url, chromium_page() as page:
        browser_login(page, url, "viv", f"/incidents/{opened.id}")
        assert page.inner_text("#inc-ack") == "未确认"
        steps = page.locator("#inc-timeline li[data-kind^='step.page']").count()
        incidents.acknowledge(opened.id, "zhou")
        page.wait_for_selector("#inc-ack.ok", timeout=10_000)
        assert page.inner_text("#inc-ack").startswith("zhou")
        AuditLog(conn).record("playbook:complaint_surge", "page", opened.label, "done", to="pr-lead")
        page.wait_for_selector(f"#inc-timeline li[data-kind^='step.page'] >> nth={steps}", timeout=10_000)
    conn.close()


def test_an_incident_dismissed_as_a_false_alarm_says_so_on_its_page_and_the_overview(tmp_path):
    """A false alarm (误报) read as a crisis handled: its page said only 恢复于, its timeline marker its level."""
    site = build_site(tmp_path)
    conn = connect(site.db)
    IncidentService(conn).dismiss(site.incident_id, datetime.now(UTC), "另一品牌的刷屏", "lin")
    conn.close()
    with serve(site) as base:
        s = login(base, "viv")
        text = _text(s.get(f"{base}/incidents/{site.incident_id}", timeout=20).text)
        overview = s.get(f"{base}/api/overview?range=7d", timeout=20).json()
    assert "误报 · lin：另一品牌的刷屏" in text and "恢复于" not in text
    assert "lin 判定为误报，事件关闭：另一品牌的刷屏" in text
    assert not [word for word in INTERNAL if word in text]
    [marker] = [m for m in overview["timeline"]["incidents"] if m["id"] == site.incident_id]
    assert marker["dismissed"] is True
