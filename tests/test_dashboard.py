"""The dashboard over real HTTP (uvicorn on loopback): login, roles, CSRF, filters, live events, tickets."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import requests

from crisiswatch.db import connect
from crisiswatch.mention import sentiment_band
from index import open_backend
from index.base import MentionFilter
from monitor.dashboard.auth import UserStore, hash_password, verify_password
from monitor.dashboard.filters import View
from monitor.incidents.service import IncidentService
from playbooks.tickets.service import TicketService
from tests.browser.dashboard_site import (
    build_site,
    csrf_of,
    demo_mentions,
    fresh_mention,
    login,
    serve,
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("dash"))


@pytest.fixture(scope="module")
def base(site):
    with serve(site) as url:
        yield url


def test_password_hash_round_trip_and_salted():
    encoded = hash_password("s3cret-pass", iterations=1000)
    assert encoded.startswith("pbkdf2_sha256$1000$")
    assert verify_password("s3cret-pass", encoded)
    assert not verify_password("s3cret-pasS", encoded)
    assert hash_password("s3cret-pass", iterations=1000) != encoded
    assert not verify_password("x", "garbage")


def test_users_from_environment_and_file(tmp_path, monkeypatch):
    path = tmp_path / "users.txt"
    store = UserStore.load(path)
    store.add("ada", "agent", "agent-pass-1")
    monkeypatch.setenv("CRISISWATCH_USERS", f"viv:viewer:{hash_password('v-pass-12', iterations=1000)}")
    loaded = UserStore.load(path)
    assert loaded.authenticate("ada", "agent-pass-1").role == "agent"
    assert loaded.authenticate("viv", "v-pass-12").role == "viewer"
    assert loaded.authenticate("ada", "wrong") is None and loaded.authenticate("nobody", "x") is None
    monkeypatch.setenv("CRISISWATCH_USERS", "eve:root:abc")
    with pytest.raises(Exception, match="unknown role 'root'"):
        UserStore.load(path)


def test_a_password_changed_by_another_process_counts_at_the_next_login(tmp_path):
    import os

    path = tmp_path / "users.txt"
    UserStore.load(path).add("ada", "agent", "old-pass-123")
    running = UserStore.load(path)  # the dashboard's copy
    UserStore.load(path).add("ada", "agent", "new-pass-456")  # `serve --add-user` after a leak
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))  # a coarse clock
    # the running dashboard let the leaked password in and refused the new one
    assert running.authenticate("ada", "old-pass-123") is None
    assert running.authenticate("ada", "new-pass-456").role == "agent"


def test_add_user_command_stores_a_hash_not_the_password(tmp_path):
    users = tmp_path / "users.txt"
    run = subprocess.run(
        [sys.executable, "-m", "crisiswatch.cli", "serve", "--db", str(tmp_path / "x.db"), "--users-file",
         str(users), "--add-user", "lin", "--role", "agent", "--password-stdin"],
        input="lin-password-9\n", capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    stored = users.read_text()
    assert stored.startswith("lin:agent:pbkdf2_sha256$") and "lin-password-9" not in stored
    assert UserStore.load(users).authenticate("lin", "lin-password-9") is not None


def test_anonymous_is_sent_to_login_and_apis_refuse(base):
    page = requests.get(f"{base}/tickets?status=新建", allow_redirects=False, timeout=10)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=/tickets")
    assert requests.get(f"{base}/api/overview", timeout=10).status_code == 401
    assert requests.get(f"{base}/api/stream", timeout=10).status_code == 401
    assert requests.get(f"{base}/mentions", allow_redirects=False, timeout=10).status_code == 303


def test_security_headers_on_every_page(base):
    reply = requests.get(f"{base}/login", timeout=10)
    csp = reply.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert reply.headers["x-frame-options"] == "DENY"
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_wrong_password_and_login_without_csrf_are_refused(base):
    s = requests.Session()
    token = csrf_of(s.get(f"{base}/login", timeout=10).text)
    bad = s.post(f"{base}/login", data={"username": "ada", "password": "nope", "csrf": token}, timeout=10)
    assert bad.status_code == 401 and "用户名或密码错误" in bad.text
    forged = requests.post(f"{base}/login", data={"username": "ada", "password": "agent-pass-1"},
                           allow_redirects=False, timeout=10)
    assert forged.status_code == 403


def test_open_redirect_after_login_is_refused(base):
    s = requests.Session()
    token = csrf_of(s.get(f"{base}/login", timeout=10).text)
    reply = s.post(f"{base}/login", data={"username": "ada", "password": "agent-pass-1", "csrf": token,
                                          "next": "//evil.example/"}, allow_redirects=False, timeout=10)
    assert reply.headers["location"] == "/"


def test_overview_matches_the_index(site, base):
    s = login(base, "viv")
    data = s.get(f"{base}/api/overview?brand=aurora&range=24h", timeout=20).json()
    backend = open_backend(site.config.index.url)
    window = View(brand="aurora").mention_filter()
    posts = list(backend.scan(window))
    backend.close()
    expected = Counter(sentiment_band(m.sentiment) for m in posts)
    assert data["total"] == sum(expected.values()) > 0
    assert data["negative"] == expected["negative"]
    assert sum(sum(s["data"]) for s in data["timeline"]["series"]) == data["total"]
    assert [s["brand"] for s in data["timeline"]["series"]] == ["aurora"]
    assert [i["label"] for i in data["timeline"]["incidents"]] == [f"INC-{site.incident_id}"]
    assert data["incidents"][0]["ticket"]["number"] == site.ticket_number
    negatives = [m for m in posts if m.sentiment_band == "negative"]
    widest = sorted(negatives, key=lambda m: (m.author.followers, m.created_at, m.id), reverse=True)
    assert [p["id"] for p in data["negative_posts"]] == [m.id for m in widest[:10]]  # by reach, a page of 10
    more = s.get(f"{base}/api/negatives?brand=aurora&offset=10", timeout=20).json()["posts"]
    assert [p["id"] for p in more] == [m.id for m in widest[10:20]]
    earlier = View(brand="aurora").mention_filter()
    backend = open_backend(site.config.index.url)
    before = backend.count(MentionFilter(brand="aurora", since=earlier.since - timedelta(hours=24),
                                         until=earlier.since))
    backend.close()
    assert data["previous"]["total"] == before
    assert data["incidents"][0]["why"]["zh"].startswith("1 分钟内负面帖 24 条")
    assert "p=" not in data["incidents"][0]["why"]["zh"]
    terms = dict(data["terms"])
    assert terms and not {"极光优选", "极光", "优选"} & set(terms)  # the brand's own name is not news
    top, count = data["terms"][0]
    assert count == sum(top in m.text.lower() for m in posts)


def test_filters_narrow_and_bad_filters_are_named(base):
    s = login(base, "viv")
    everything = s.get(f"{base}/api/overview", timeout=20).json()
    jd = s.get(f"{base}/api/overview?source=jd", timeout=20).json()
    assert 0 < jd["total"] < everything["total"] and [k for k, _ in jd["sources"]] == ["jd"]
    bad = s.get(f"{base}/api/overview?source=myspace", timeout=20)
    assert bad.status_code == 400 and "source=myspace" in bad.json()["error"]
    page = s.get(f"{base}/?source=myspace&range=7d", timeout=20)
    assert page.status_code == 200 and "source=myspace" in page.text


def test_english_interface_on_request(base):
    s = login(base, "viv")
    assert "舆情看板" in s.get(f"{base}/", timeout=20).text
    assert "Dashboard" in s.get(f"{base}/?lang=en", timeout=20).text
    assert "Tickets" in s.get(f"{base}/tickets", timeout=20).text  # remembered in the session


def test_stream_sends_an_overview_then_a_new_one_when_a_mention_arrives(site, base):
    s = login(base, "viv")
    with s.get(f"{base}/api/stream?brand=aurora", stream=True, timeout=20) as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = _events(reply.iter_lines(decode_unicode=True))
        first = next(events)
        site.index([fresh_mention(site.now + timedelta(seconds=1), 1)])
        # an event may also come when the clock turns a minute; the next one with a change is the post
        second = next(e for e, _ in zip(events, range(5), strict=False) if e["total"] != first["total"])
    assert second["total"] == first["total"] + 1
    assert second["negative"] == first["negative"] + 1


def _events(lines):
    for line in lines:
        if line.startswith("data: "):
            yield json.loads(line[6:])


def test_viewer_cannot_convert_and_post_without_csrf_is_refused(site, base):
    mention_id = demo_mentions(site.now)[-1].id
    viewer = login(base, "viv")
    page = viewer.get(f"{base}/mentions/{mention_id}", timeout=10)
    assert page.status_code == 200 and "convert-form" not in page.text
    refused = viewer.post(f"{base}/mentions/{mention_id}/convert", data={"csrf": csrf_of(page.text)},
                          allow_redirects=False, timeout=10)
    assert refused.status_code == 403
    agent = login(base, "ada")
    no_token = agent.post(f"{base}/mentions/{mention_id}/convert", data={"severity": "重要"},
                          allow_redirects=False, timeout=10)
    assert no_token.status_code == 403
    assert "ticket" not in (no_token.headers.get("location") or "")


def test_convert_prefills_from_enrichment_and_opens_a_ticket(site, base):
    post = next(m for m in demo_mentions(site.now) if m.category == "payment_billing")
    agent = login(base, "ada")
    page = agent.get(f"{base}/mentions/{post.id}", timeout=10).text
    assert 'value="payment_billing" selected' in page and f'value="{post.severity}" selected' in page
    assert '<dd id="mention-lang">中文</dd>' in page  # the language the enrichment identified, by name
    reply = agent.post(f"{base}/mentions/{post.id}/convert",
                       data={"csrf": csrf_of(page), "category": "payment_billing", "severity": "紧急",
                             "department": "客服"}, allow_redirects=False, timeout=10)
    assert reply.status_code == 303 and reply.headers["location"].startswith("/tickets/CW-")
    ticket_page = agent.get(f"{base}{reply.headers['location']}", timeout=10).text
    assert "紧急" in ticket_page and post.text in ticket_page and "ada" in ticket_page


def test_ticket_lifecycle_and_a_clear_version_conflict(site, base):
    agent = login(base, "ada")
    url = f"{base}/tickets/{site.ticket_number}"
    page = agent.get(url, timeout=10).text
    token, version = csrf_of(page), _version(page)
    accepted = agent.post(f"{url}/action", data={"csrf": token, "version": version, "action": "accept",
                                                 "note": "已联系物流"}, allow_redirects=False, timeout=10)
    assert accepted.status_code == 303
    stale = agent.post(f"{url}/action", data={"csrf": token, "version": version, "action": "start"}, timeout=10)
    assert stale.status_code == 409
    assert f"你看到的是第 {version} 版，当前是第 {version + 1} 版" in stale.text
    fresh = agent.get(url, timeout=10).text
    assert "已受理" in fresh and "已联系物流" in fresh
    illegal = agent.post(f"{url}/action", data={"csrf": token, "version": _version(fresh), "action": "close"},
                         timeout=10)
    assert illegal.status_code == 400 and "cannot close" in illegal.text
    listed = agent.get(f"{base}/tickets?status=已受理", timeout=10).text
    assert site.ticket_number in listed
    assert site.ticket_number not in agent.get(f"{base}/tickets?status=新建&severity=紧急", timeout=10).text


def _version(html: str) -> int:
    marker = 'name="version" value="'
    start = html.index(marker) + len(marker)
    return int(html[start:html.index('"', start)])


def test_search_is_chinese_full_text(site, base):
    s = login(base, "viv")
    page = s.get(f"{base}/mentions", params={"q": "虚假签收", "range": "24h"}, timeout=10).text
    backend = open_backend(site.config.index.url)
    expected = backend.search("虚假签收", MentionFilter(), limit=50)
    backend.close()
    assert expected and page.count('class="row-link"') == min(len(expected), 50)
    assert "退款拖了半个月" not in page


def test_demo_login_is_refused_off_loopback(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "crisiswatch.cli", "serve", "--db", str(tmp_path / "x.db"), "--demo-login",
         "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "--demo-login is for local use" in run.stderr


def test_slack_endpoints_are_mounted_and_verify_signatures(base):
    reply = requests.post(f"{base}/slack/actions", data={"payload": "{}"}, timeout=10)
    assert reply.status_code in (401, 503)  # refused by signature checking, not missing (404) or CSRF (403)


def test_overview_shows_each_sources_health_as_status_does(site, base):
    from crawlers.health import source_health
    from crawlers.state import CrawlState
    from crisiswatch.db import connect

    s = login(base, "viv")
    assert "尚无抓取或检查记录" in s.get(f"{base}/", timeout=20).text  # nothing crawled yet: says why
    state = CrawlState(connect(site.db))
    run = state.start_run("weibo_search")
    state.record("weibo_search", "source_blocked", reason="captcha (ok:-100)", status="blocked")
    state.finish_run(run, "blocked", 0, 1)
    state.finish_run(state.start_run("jd_reviews"), "finished", 37, 2)
    page = s.get(f"{base}/", timeout=20).text
    for health in source_health(connect(site.db)):  # the lines `crisiswatch status` prints
        assert health.source in page and health.reason in page
    assert "被封禁" in page and "captcha (ok:-100)" in page and "37 mentions" in page and "正常" in page


def test_every_source_health_status_has_a_label_in_both_languages():
    from crawlers.health import STATUSES
    from monitor.dashboard.i18n import TEXT

    missing = [s for s in STATUSES if set(TEXT.get("health_" + s.replace("-", "_"), {})) != {"zh", "en"}]
    assert not missing, missing


def test_statements_page_says_what_it_is_for(base):
    page = login(base, "viv").get(f"{base}/statements", timeout=20).text
    assert "预案起草的对外声明" in page  # a heading, and an empty list that says what would be there
    assert 'id="no-statements"' in page or 'class="card statement"' in page


def test_the_mentions_list_says_it_shows_the_newest_and_gives_more(site, base):
    s = login(base, "viv")
    backend = open_backend(site.config.index.url)
    total = backend.count(View(range="24h").mention_filter())
    backend.close()
    assert total > 100
    page = s.get(f"{base}/mentions", params={"range": "24h"}, timeout=10).text
    assert page.count('class="row-link"') == 50 and "最新 50 条" in page
    more = page[page.index('id="list-more"') - 200:page.index('id="list-more"')]
    link = more[more.index('href="') + 6:more.index('"', more.index('href="') + 6)].replace("&amp;", "&")
    assert "limit=100" in link and "range=24h" in link
    again = s.get(link if link.startswith("http") else f"{base}{link}", timeout=10).text
    assert again.count('class="row-link"') == 100
    last = s.get(f"{base}/mentions", params={"range": "24h", "limit": "800"}, timeout=10).text
    assert last.count('class="row-link"') == min(total, 800) and 'id="list-more"' not in last


def test_incident_page_counts_the_incidents_negative_posts_by_source_and_category(site, base):
    """What is spreading is counted over the incident so far, each table headed, and agrees with the index."""
    incidents = IncidentService(connect(site.db))
    before = incidents.get(site.incident_id)
    opened = before.opened_at
    # what the detector attaches at the onset: a few minutes of posts, which the page is not to pass off as the whole
    incidents.attach_facts(site.incident_id, sources={"weibo": 1}, categories={"other": 1})
    try:
        page = login(base, "viv").get(f"{base}/incidents/{site.incident_id}", timeout=20).text
    finally:
        incidents.conn.execute("UPDATE incidents SET facts=? WHERE id=?", (json.dumps(before.facts), site.incident_id))
    window = {"brand": "aurora", "since": opened - timedelta(minutes=30), "until": datetime.now(UTC),
              "sentiment_band": "negative"}
    backend = open_backend(site.config.index.url)
    negatives = backend.count(MentionFilter(**window))
    assert negatives > 0  # counted by the index over the whole window, however many
    for dim, rows in (("source", re.findall(r'data-source="([^"]+)"><td>[^<]*</td><td class="num">(\d+)<', page)),
                      ("category", re.findall(r'data-category="([^"]+)"><td>[^<]*</td><td class="num">(\d+)<', page))):
        assert rows, dim
        for key, n in rows:
            assert int(n) == backend.count(MentionFilter(**window, **{dim: key})), (dim, key)
    backend.close()
    assert f"事件期间的 {negatives} 条负面帖" in page and "<th>来源</th>" in page and "<th>类别</th>" in page


def test_the_tickets_page_says_it_shows_the_newest_of_how_many(site, base):
    from playbooks.tickets.service import TicketService

    tickets = TicketService.from_config(site.config, connect(site.db))
    for n in range(203):  # a brand of their own, so the page's other tests see the same lists
        tickets.open(title=f"积压投诉{n}", severity="一般", brand="backlog", actor="ada")
    page = login(base, "ada").get(f"{base}/tickets?brand=backlog", timeout=20).text
    assert page.count("积压投诉") == 200 and "显示最新 200 张，共 203 张" in page
    assert "tickets-capped" not in login(base, "ada").get(f"{base}/tickets?brand=backlog&severity=紧急", timeout=20).text


def test_an_extension_in_the_console_needs_a_named_member_of_management(site, base):
    from playbooks.tickets.service import TicketService

    tickets = TicketService.from_config(site.config, connect(site.db))
    ticket = tickets.open(title="延期审批", severity="一般", brand="extension", actor="ada")
    until = tickets.local(ticket.resolve_due + timedelta(days=2)).replace(" ", "T")  # datetime-local, team zone
    agent = login(base, "ada")
    url = f"{base}/tickets/{ticket.number}"
    page = agent.get(url, timeout=10).text
    form = {"csrf": csrf_of(page), "version": _version(page), "until": until}
    refused = agent.post(f"{url}/extend", data={**form, "approved_by": "王经理"}, allow_redirects=False, timeout=10)
    assert refused.status_code == 400
    assert "an extension is approved by a member of 管理层 (root); 王经理 is not in tickets.staff" in refused.text
    assert tickets.get(ticket.id).resolve_due == ticket.resolve_due
    approved = agent.post(f"{url}/extend", data={**form, "approved_by": "root"}, allow_redirects=False, timeout=10)
    assert approved.status_code == 303 and tickets.get(ticket.id).extension_approved_by == "root"


def test_an_archived_ticket_page_offers_no_change_and_says_why(site, base):
    from playbooks.tickets.service import TicketService
    from tests.test_ticket_archive import STEPS

    then = [datetime.now(UTC) - timedelta(days=60)]
    tickets = TicketService.from_config(site.config, connect(site.db), clock=lambda: then[0])
    t = tickets.open(title="早已办结的投诉", severity="一般", brand="archive", actor="ada")
    for action, extra in STEPS:
        then[0] += timedelta(hours=1)
        t = tickets.transition(t.id, action, actor="ada", expected_version=t.version, **extra)
    t = tickets.archive(t.id, actor="ada", expected_version=t.version, now=datetime.now(UTC))
    page = login(base, "ada").get(f"{base}/tickets/{t.number}", timeout=20).text
    # every form was offered, and each was refused by the service when sent
    assert 'id="archived-note"' in page and "记录已冻结" in page
    assert not any(f'action="/tickets/{t.number}/{form}"' in page
                   for form in ("classify", "action", "reply", "assign", "extend", "note"))


def test_a_回访_call_that_did_not_reach_the_customer_is_recorded_from_the_console(site, base):
    tickets = TicketService.from_config(site.config, connect(site.db))
    t = tickets.intake(channel="phone", customer="王女士", contact="13812345678", summary="快递五天没到",
                       category="logistics", severity="一般", actor="ada")
    for action in ("accept", "start", "reply", "resolve"):
        t = tickets.transition(t.id, action, actor="ada", expected_version=t.version,
                               note="已电话告知补发安排" if action == "reply" else None, via="电话")
    agent = login(base, "ada")
    url = f"{base}/tickets/{t.number}"
    for attempt in (1, 2, 3):
        page = agent.get(url, timeout=10).text
        assert 'data-action="followup_unreached">回访未联系上</button>' in page
        if attempt == 1:  # no 回访 yet: the console refuses the closing with the rule, as the CLI does
            refused = agent.post(f"{url}/action", data={"csrf": csrf_of(page), "version": _version(page),
                                                        "action": "close"}, timeout=10)
            assert refused.status_code == 400 and "0 of 3 so far" in refused.text
        tried = agent.post(f"{url}/action", data={"csrf": csrf_of(page), "version": _version(page),
                                                  "action": "followup_unreached", "note": "无人接听"},
                           allow_redirects=False, timeout=10)
        assert tried.status_code == 303
    page = agent.get(url, timeout=10).text
    assert "回访未联系上（第 3/3 次）" in page
    closed = agent.post(f"{url}/action", data={"csrf": csrf_of(page), "version": _version(page), "action": "close"},
                        allow_redirects=False, timeout=10)
    assert closed.status_code == 303 and tickets.require(t.id).status == "已关闭"


def test_waiting_for_the_customer_from_the_console(site, base):
    tickets = TicketService.from_config(site.config, connect(site.db))
    t = tickets.intake(channel="phone", customer="李先生", contact="13900000000", summary="屏幕有坏点",
                       category="product_quality", severity="一般", actor="ada")
    agent = login(base, "ada")
    url = f"{base}/tickets/{t.number}"
    page = agent.get(url, timeout=10).text
    assert 'data-action="pause">等待客户（暂停计时）</button>' in page
    paused = agent.post(f"{url}/action", data={"csrf": csrf_of(page), "version": _version(page), "action": "pause",
                                               "note": "等待客户补充坏点照片"}, allow_redirects=False, timeout=10)
    assert paused.status_code == 303 and tickets.require(t.id).paused_at is not None
    page = agent.get(url, timeout=10).text
    assert 'id="ticket-paused"' in page and "等待客户，SLA 暂停计时" in page
    assert 'data-action="resume"' in page and 'data-action="accept"' not in page  # the steps wait for the answer
    resumed = agent.post(f"{url}/action", data={"csrf": csrf_of(page), "version": _version(page), "action": "resume"},
                         allow_redirects=False, timeout=10)
    assert resumed.status_code == 303 and tickets.require(t.id).paused_at is None


def test_a_duplicate_is_merged_from_the_ticket_page_as_ticket_merge_does(site, base):
    tickets = TicketService.from_config(site.config, connect(site.db))
    keep = tickets.intake(channel="phone", customer="周女士", contact="13811112222", summary="洗衣机漏水",
                          category="product_quality", severity="一般", actor="ada", brand="merge")
    dup = tickets.intake(channel="email", customer="周女士", contact="zhou@example.com", summary="洗衣机漏水（邮件）",
                         category="product_quality", severity="一般", actor="ada", brand="merge")
    agent = login(base, "ada")
    url = f"{base}/tickets/{dup.number}"
    page = agent.get(url, timeout=10).text
    assert f'action="/tickets/{dup.number}/merge"' in page and 'id="merge-form"' in page
    form = {"csrf": csrf_of(page), "version": _version(page)}
    # the service's refusals, word for word, and nothing moved
    for into, said in ((dup.number, f"ticket {dup.number} cannot be merged into itself"),
                       ("CW-20000101-0001", "no ticket CW-20000101-0001")):
        refused = agent.post(f"{url}/merge", data={**form, "into": into}, allow_redirects=False, timeout=10)
        assert refused.status_code == 400 and said in refused.text
    assert tickets.require(dup.id).status == "新建"
    forged = agent.post(f"{url}/merge", data={**form, "csrf": "forged", "into": keep.number}, allow_redirects=False,
                        timeout=10)
    assert forged.status_code == 403 and tickets.require(dup.id).status == "新建"
    merged = agent.post(f"{url}/merge", data={**form, "into": keep.number}, allow_redirects=False, timeout=10)
    assert merged.status_code == 303 and merged.headers["location"] == f"/tickets/{keep.number}"
    assert tickets.require(dup.id).status == "已关闭" and tickets.merged_into(tickets.require(dup.id)) == keep.number
    assert [e["kind"] for e in tickets.timeline(keep.id)][-1] == "merged_from"
    page = agent.get(url, timeout=10).text  # a closed duplicate offers no merge, and a second try is refused
    assert 'id="merge-form"' not in page
    again = agent.post(f"{url}/merge", data={"csrf": csrf_of(page), "version": _version(page), "into": keep.number},
                       allow_redirects=False, timeout=10)
    assert again.status_code == 400 and f"ticket {dup.number} is 已关闭: only open tickets are merged" in again.text


def test_a_dissatisfied_回访_in_the_console_sends_the_case_back_or_closes_it_with_the_reason(site, base):
    tickets = TicketService.from_config(site.config, connect(site.db))
    agent = login(base, "ada")
    for close_reason, status in (("", "处理中"), ("诉求超出政策，王经理已确认", "已关闭")):
        t = tickets.intake(channel="phone", customer="赵先生", contact="13700000000", summary="退款一直没到账",
                           category="payment_billing", severity="一般", actor="ada")
        for action in ("accept", "start", "reply", "resolve"):
            t = tickets.transition(t.id, action, actor="ada", expected_version=t.version,
                                   note="已电话告知退款进度" if action == "reply" else None, via="电话")
        url = f"{base}/tickets/{t.number}"
        page = agent.get(url, timeout=10).text
        assert 'id="close-reason"' in page
        done = agent.post(f"{url}/action", data={"csrf": csrf_of(page), "version": _version(page), "action": "followup",
                                                 "satisfaction": "2", "close_reason": close_reason},
                          allow_redirects=False, timeout=10)
        assert done.status_code == 303
        t = tickets.require(t.id)
        assert (t.status, t.score, t.reopened) == (status, 2, 0 if close_reason else 1)
        assert "工单重新打开" in agent.get(url, timeout=10).text if not close_reason else t.closed_at is not None


def test_an_unknown_follower_count_is_null_in_the_api_and_said_on_the_page(site, base):
    # s.weibo.com's results give no follower count: the API says null (not 0), the page says it is unknown
    post = fresh_mention(site.now - timedelta(minutes=5), 77, "极光优选的快递丢件了，客服一直不回")
    post = post.model_copy(update={"source": "x", "author": post.author.model_copy(update={"followers": None})})
    site.index([post])
    s = login(base, "viv")
    data = s.get(f"{base}/api/overview", params={"brand": "aurora", "range": "24h", "source": "x"}, timeout=20).json()
    assert [(a["author_id"], a["followers"]) for a in data["authors"]] == [("f77", None)]
    assert [(p["id"], p["followers"]) for p in data["negative_posts"]] == [(post.id, None)]
    page = s.get(f"{base}/mentions/{post.id}", timeout=10).text
    assert "粉丝数未知" in page and "None" not in page
