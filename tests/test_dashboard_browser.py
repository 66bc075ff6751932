"""The dashboard in a real headless Chromium: charts render, live updates arrive, conversion works, no XSS.

Chromium is Debian's package (`make test` installs it); without it these tests fail with that message.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crisiswatch.mention import Mention
from index import open_backend
from tests.browser.dashboard_site import (
    HOSTILE_TEXTS,
    Site,
    browser_login,
    build_site,
    chromium_page,
    free_port,
    fresh_mention,
    hostile_mentions,
    serve,
    site_config,
)

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
CHARTS = ("chart-timeline", "chart-sentiment", "chart-categories", "chart-sources", "chart-terms")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def base(site):
    with serve(site) as url:
        yield url


def _series_total(page, chart_id: str) -> float:
    return page.evaluate("""(id) => {
        const chart = echarts.getInstanceByDom(document.getElementById(id));
        if (!chart) return -1;
        let total = 0;
        for (const s of chart.getOption().series)
            for (const d of s.data) {
                if (d === null) continue;
                const v = Array.isArray(d) ? d[1] : (typeof d === 'object' ? d.value : d);
                total += (Array.isArray(v) ? v[1] : v) || 0;
            }
        return total;
    }""", chart_id)


def _wait(page, expression: str, seconds: float = 5) -> None:
    """Poll an expression from outside the page: the strict CSP (no eval) refuses wait_for_function's polling."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {seconds} s: {expression}")
        page.wait_for_timeout(100)


def test_anonymous_browser_lands_on_login(base):
    with chromium_page() as page:
        page.goto(f"{base}/?brand=aurora")
        assert page.url.startswith(f"{base}/login?next=")
        assert page.locator("input[name=password]").count() == 1


def test_dashboard_renders_charts_from_the_index(base):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        browser_login(page, base, "viv")
        page.wait_for_selector("body[data-updates='1']", timeout=15_000)
        api = page.evaluate("fetch('/api/overview').then(r => r.json())")
        assert api["total"] > 0
        assert page.inner_text("#kpi-total").replace(",", "") == str(api["total"])
        for chart_id in CHARTS:
            assert page.locator(f"#{chart_id} canvas").count() >= 1, chart_id
            assert _series_total(page, chart_id) > 0, chart_id
        assert _series_total(page, "chart-sentiment") == api["total"]
        assert page.locator("#authors tr").count() == len(api["authors"]) > 0
        assert page.locator("#negatives li").count() == len(api["negative_posts"]) > 0
        assert page.inner_text("#negatives-count") == f"共 {api['negative']} 条"
        page.click("#negatives-more")  # the next page by reach, below the first
        _wait(page, f"document.querySelectorAll('#negatives li').length > {len(api['negative_posts'])}")
        assert page.locator("#kpi-total-vs").inner_text().startswith("较上期")
        assert page.locator("#incidents .incident").count() == 1
        assert page.locator("#incidents .countdown").inner_text()  # the SLA clock ticks client-side
        page.wait_for_timeout(300)  # let ECharts finish its first frame before the picture
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        assert errors == []


def test_live_update_arrives_without_reload(site, base):
    with chromium_page() as page:
        browser_login(page, base, "viv")
        page.wait_for_selector("body[data-updates='1']", timeout=15_000)
        before = int(page.inner_text("#kpi-total").replace(",", ""))
        page.evaluate("window.__sameDocument = true")
        site.index([fresh_mention(site.now + timedelta(seconds=5), 7, "极光优选的仓库又把我的快递弄丢了")])
        _wait(page, f"document.getElementById('kpi-total').textContent.replace(/,/g, '') == {before + 1}", 15)
        assert page.evaluate("window.__sameDocument") is True  # the page never navigated


def test_filters_live_in_the_url(base):
    with chromium_page() as page:
        browser_login(page, base, "viv")
        page.wait_for_selector("body[data-updates='1']", timeout=15_000)
        total = int(page.inner_text("#kpi-total").replace(",", ""))
        page.select_option("select[name=source]", "jd")
        page.wait_for_selector("body[data-view='source=jd&range=24h']", timeout=15_000)
        assert "source=jd" in page.url
        narrowed = int(page.inner_text("#kpi-total").replace(",", ""))
        assert 0 < narrowed < total
        page.goto(page.url)  # a shared link opens the same view
        page.wait_for_selector("body[data-updates='1']", timeout=15_000)
        assert page.input_value("select[name=source]") == "jd"
        assert int(page.inner_text("#kpi-total").replace(",", "")) == narrowed


def test_agent_converts_a_post_into_a_ticket(base):
    with chromium_page() as page:
        browser_login(page, base, "ada", "/mentions")
        page.fill("input[name=q]", "退款")
        page.click("form.filters button[type=submit]")
        page.locator("a.row-link").first.click()
        assert page.input_value("select[name=category]") == "payment_billing"  # prefilled from enrichment
        assert "极光优选" in page.inner_text("#mention-brands") and page.inner_text("#mention-lang") == "中文"
        assert page.input_value("select[name=department]")
        page.click("#convert")
        page.wait_for_url(f"{base}/tickets/CW-*")
        assert "新建" in page.inner_text("h1")
        opened = page.inner_text("#timeline")  # the event in words, in the interface language, no stored fields
        assert "开立工单 CW-" in opened and "created" not in opened and "severity:" not in opened
        facts = page.inner_text("dl.facts")
        assert "极光优选" in facts and "aurora" not in facts and "version" not in facts  # names a person reads
        page.click("button[data-action=accept]")
        page.wait_for_load_state("load")
        assert "已受理" in page.inner_text("h1")


def test_viewer_sees_no_convert_form(site, base):
    with chromium_page() as page:
        browser_login(page, base, "viv", "/mentions")
        page.locator("a.row-link").first.click()
        assert page.locator("#convert-form").count() == 0


def test_hostile_posts_are_shown_as_text_and_nothing_runs(tmp_path):
    site = build_site(tmp_path, hostile=True)
    backend = open_backend(site.config.index.url)
    hostile = [backend.get(m.id) for m in hostile_mentions(site.now)]
    backend.close()
    assert sum("<script>" in m.text for m in hostile) == 2  # what the pages read is live markup
    with serve(site) as base, chromium_page() as page:
        dialogs, pwned = [], []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        # any hostile payload that runs sets window.__pwned: trap the assignment on every page
        page.expose_function("__reportPwned", lambda value: pwned.append(value))
        page.add_init_script("Object.defineProperty(window, '__pwned', {set: v => window.__reportPwned(String(v)),"
                             " get: () => undefined, configurable: false});")
        browser_login(page, base, "root")
        page.wait_for_selector("body[data-updates='1']", timeout=15_000)
        negatives = page.inner_text("#negatives")
        assert "<script>" in negatives and "onerror" in negatives  # shown literally, as text
        assert page.inner_text("#authors").count("<img src=x") == len(HOSTILE_TEXTS)
        page.hover("#negatives li")
        page.hover("#chart-timeline")
        page.goto(f"{base}/mentions?q=极光优选&band=negative")
        assert page.locator("a.row-link").count() >= len(HOSTILE_TEXTS)
        for m in hostile:
            page.goto(f"{base}/mentions/{m.id}")
            page.hover("p.text")
            assert page.inner_text("p.text") == m.text
            assert page.locator("dd a[href^='javascript']").count() == 0
            assert page.locator("img[src=x], svg, script:not([src])").count() == 0
        page.goto(f"{base}/mentions/{hostile[1].id}")
        page.click("#convert")
        page.wait_for_url(f"{base}/tickets/CW-*")
        assert "onerror" in page.inner_text("main")
        page.goto(f"{base}/tickets")
        page.wait_for_timeout(300)
        assert pwned == [] and dialogs == []


def test_pr_lead_opens_the_incident_page_from_the_overview(site, base):
    """Brand display name, since when, the golden-window countdown, the top post by reach, the action timeline."""
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        browser_login(page, base, "viv")
        page.wait_for_selector("body[data-updates='1']", timeout=15_000)
        card = page.locator("#incidents .incident")
        assert "1 分钟内负面帖 24 条" in card.inner_text() and "p=" not in card.inner_text()
        card.locator("a.incident-link").click()
        page.wait_for_url(f"{base}/incidents/{site.incident_id}")
        assert page.inner_text("#inc-brand") == "极光优选"
        assert page.inner_text("#inc-since") == site.incident_opened_local
        assert page.inner_text("#inc-ack").startswith("lin")
        golden = page.inner_text("#inc-golden")
        assert golden.startswith("剩余 11:")  # 12 h from the start, 40 min gone
        _wait(page, f"document.getElementById('inc-golden').textContent !== {golden!r}")
        top = page.locator("#top-posts article").first
        assert top.locator("a.author").get_attribute("href") == f"/mentions/{site.widest_negative.id}"
        assert site.widest_negative.text in top.inner_text()
        timeline = page.inner_text("#inc-timeline")
        for line in ("事件开启", "已发送告警", "开立工单", "添加任务 2 项", "lin 确认了事件", "声明草稿已起草"):
            assert line in timeline, line
        assert "tasks_added" not in page.inner_text("main")
        assert page.evaluate("window.__incidentChart.getOption().series[0].data.length") > 10
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "incident.png"), full_page=True)
        hanzi = {ch for ch in page.inner_text("body") if "\u4e00" <= ch <= "\u9fff"}
        assert hanzi and all(_gb2312(ch) for ch in hanzi)  # one script: simplified Chinese
        assert errors == []


def _gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def test_a_cookie_replayed_after_logout_is_refused_in_the_browser(site, base):
    with chromium_page() as page:
        browser_login(page, base, "ada", "/mentions")
        stolen = page.context.cookies()
        page.locator("form[action='/logout'] button").click()
        page.wait_for_url(f"{base}/login")
        page.context.add_cookies(stolen)  # the cookie copied before logout, put back
        page.goto(f"{base}/tickets")
        assert page.url.startswith(f"{base}/login?next=")
        assert page.evaluate("fetch('/api/overview').then(r => r.status)") == 401


def test_the_tenth_wrong_password_is_throttled_in_the_browser(tmp_path):
    site = build_site(tmp_path)
    with serve(site) as base, chromium_page() as page:
        for _ in range(10):
            page.goto(f"{base}/login")
            page.fill("input[name=username]", "root")
            page.fill("input[name=password]", "not-the-password")
            with page.expect_navigation() as reply:
                page.click("button[type=submit]")
        assert reply.value.status == 429
        assert "登录失败次数过多，请 15 分钟后再试" in page.inner_text(".alert")


def test_an_index_that_cannot_be_read_is_one_line_not_a_traceback(tmp_path):
    """OpenSearch down: the dashboard's live box says so in one line, the console's pages and the API answer
    503 with that line; nothing shows a traceback or drops the connection."""
    site = build_site(tmp_path)
    down = f"opensearch://127.0.0.1:{free_port()}?retries=0"  # nothing listens there
    with serve(site, index_url=down) as url, chromium_page() as page:
        browser_login(page, url, "ada")
        _wait(page, "document.getElementById('live').dataset.state === 'off'", 15)
        line = page.inner_text("#live-text")
        where = down
        assert line.startswith(f"舆情索引（{where}）暂时无法读取") and "\n" not in line, line
        assert "Error" not in line  # the client's exception is for the server log
        assert page.inner_text("#kpi-total") == "–"
        reply = page.goto(f"{url}/mentions?q=快递")
        assert reply.status == 503
        assert page.inner_text("[role=alert]").startswith(f"舆情索引（{where}）暂时无法读取")
        assert "Traceback" not in page.content() and "Internal Server Error" not in page.content()
        api = page.evaluate("fetch('/api/overview').then(async r => [r.status, await r.json()])")
        assert api[0] == 503 and api[1]["error"].startswith(f"舆情索引（{where}）暂时无法读取")
        assert page.goto(f"{url}/tickets/{site.ticket_number}").status == 200  # the state store still serves


def _odd_posts(now) -> list[Mention]:
    """What people do post: a 300-letter name, a 600-letter word, a long link, an English post, RTL overrides."""
    def post(n: str, text: str, name: str, followers: int, lang: str = "zh") -> Mention:
        return Mention(source="weibo", native_id=f"odd-{n}", url=f"https://m.weibo.cn/detail/77{len(n)}", text=text,
                       created_at=now - timedelta(seconds=20), author={"id": f"odd-{n}", "name": name,
                                                                      "followers": followers},
                       brands=["aurora"], sentiment=0.03, category="logistics", severity="紧急", complaint=True,
                       lang=lang)

    return [post("long", "极光优选" + "A" * 600 + " 快递丢了", "B" * 300, 99_000_000),
            post("link", "极光优选退款 https://example.com/" + "p" * 400, "\u202e反向的名字", 98_000_000),
            post("en", "Aurora Select lost my parcel again, third time this month", "parcel_watcher", 97_000_000,
                 lang="en")]


@pytest.fixture(scope="module")
def odd_site(tmp_path_factory):
    site = build_site(tmp_path_factory.mktemp("odd"))
    site.index(_odd_posts(site.now))
    return site


def test_long_unbroken_names_and_words_wrap_inside_every_page(odd_site):
    """A 300-letter author name or a 600-letter word in a post made every page wider than the window
    (the dashboard 2,950 px at 1,600): it wraps or is cut with an ellipsis inside its card."""
    long = next(m for m in _odd_posts(odd_site.now) if m.native_id == "odd-long")
    with serve(odd_site) as url, chromium_page() as page:
        browser_login(page, url, "ada")
        page.wait_for_selector("body[data-updates='1']", timeout=15_000)
        pages = ["/", "/mentions?brand=aurora", f"/mentions/{long.id}", f"/incidents/{odd_site.incident_id}"]
        for path in pages:
            if path != "/":
                page.goto(url + path)
            assert page.locator(f"text={'B' * 40}").count() >= 1, path  # the long name is there
            wide = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert wide[0] <= wide[1], f"{path}: {wide[0]} px wide in a {wide[1]} px window"
        page.goto(f"{url}/mentions/{long.id}")
        page.click("#convert")
        page.wait_for_load_state("load")
        assert "/tickets/" in page.url
        wide = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert wide[0] <= wide[1], f"ticket page: {wide[0]} px wide in a {wide[1]} px window"
        # the counts beside a long name stay whole numbers on one line
        page.goto(url + "/")
        page.wait_for_selector("body[data-updates='1']", timeout=15_000)
        followers = page.locator("#authors tr").first.locator("td.num").first
        assert followers.inner_text() == "99,000,000"
        lines = "e => { const r = document.createRange(); r.selectNodeContents(e); return r.getClientRects().length; }"
        assert followers.evaluate(lines) == 1  # one line, not 99, / 000, / 000


def test_each_post_says_its_language(odd_site):
    english = next(m for m in _odd_posts(odd_site.now) if m.lang == "en")
    with serve(odd_site) as url, chromium_page() as page:
        browser_login(page, url, "viv")
        page.wait_for_selector("body[data-updates='1']", timeout=15_000)
        # the dashboard's posts by reach: the English one says so, a Chinese one says 中文
        assert page.locator("#negatives .tag.lang[data-lang='en']").inner_text() == "英文"
        assert page.locator("#negatives .tag.lang[data-lang='zh']").count() >= 1
        page.goto(f"{url}/mentions?q=parcel")
        assert page.locator(".list .post .tag.lang").all_inner_texts() == ["英文"]
        page.goto(f"{url}/incidents/{odd_site.incident_id}?lang=en")
        post = page.locator("#top-posts .post", has_text=english.text)
        assert post.locator(".tag.lang").inner_text() == "English"


def test_a_dashboard_with_no_posts_yet_says_so_and_fills_in_when_the_first_arrives(tmp_path):
    """Before the first crawl: each chart card says there are no posts (it showed an empty grey ring and a
    legend naming nothing); the first post fills them in without a reload."""
    db = tmp_path / "empty.db"
    config = site_config(db)
    open_backend(config.index.url).close()
    site = Site(config, db, datetime.now(UTC), 0, "")
    notes = ("chart-sentiment-empty", "chart-categories-empty", "chart-sources-empty")
    with serve(site) as url, chromium_page() as page:
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        browser_login(page, url, "viv")
        page.wait_for_selector("body[data-updates='1']", timeout=15_000)
        assert page.inner_text("#kpi-total") == "0"
        for note in notes:
            assert page.is_visible(f"#{note}") and page.inner_text(f"#{note}") == "该时段没有帖子", note
        assert _series_total(page, "chart-sentiment") == 0
        site.index([fresh_mention(datetime.now(UTC), 1)])
        _wait(page, "document.getElementById('kpi-total').textContent === '1'", 15)
        for note in notes:
            assert not page.is_visible(f"#{note}"), note
        assert _series_total(page, "chart-sentiment") == 1 and _series_total(page, "chart-sources") == 1
        assert errors == []


def test_posts_loaded_with_more_stay_through_live_updates(tmp_path):
    """During an incident the overview changes every few seconds: the posts a PR lead loaded with 加载更多
    vanished at the next update (back to the first ten) and the list jumped while they read it."""
    site = build_site(tmp_path)
    with serve(site) as url, chromium_page() as page:
        browser_login(page, url, "viv")
        page.wait_for_selector("body[data-updates='1']", timeout=15_000)
        page.click("#negatives-more")
        _wait(page, "document.querySelectorAll('#negatives li').length === 20")
        page.click("#negatives-more")
        _wait(page, "document.querySelectorAll('#negatives li').length === 30")
        page.evaluate("document.getElementById('negatives').scrollTop = 600")
        before = page.evaluate("document.getElementById('negatives').scrollTop")
        for n in range(3):  # new posts arrive and the page redraws
            updates = int(page.get_attribute("body", "data-updates"))
            site.index([fresh_mention(datetime.now(UTC), 100 + n)])
            _wait(page, f"Number(document.body.dataset.updates) > {updates}", 15)
            page.wait_for_timeout(400)
            assert page.locator("#negatives li").count() == 30
        assert page.evaluate("document.getElementById('negatives').scrollTop") == before
        ids = page.evaluate("[...document.querySelectorAll('#negatives li a')].map(a => a.getAttribute('href'))")
        assert len(set(ids)) == 30  # no post twice


def test_every_page_fits_a_phone(site, base):
    """A PR lead on a phone during a crisis: at 390 px the top bar stacked its links a letter a line and the
    ticket page was 500 px wide; every page now fits the screen."""
    with chromium_page() as page:
        page.set_viewport_size({"width": 390, "height": 844})
        browser_login(page, base, "ada")
        page.wait_for_selector("body[data-updates='1']", timeout=15_000)
        for path in ["/", "/mentions", f"/tickets/{site.ticket_number}", "/tickets", "/tickets/new", "/statements",
                     f"/incidents/{site.incident_id}", "/account"]:
            if path != "/":
                page.goto(base + path)
            wide = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert wide[0] <= wide[1], f"{path}: {wide[0]} px wide on a {wide[1]} px phone"
            for link in page.locator(".topbar nav a").all():  # each link on one line
                assert link.evaluate("e => e.getClientRects().length === 1 && e.offsetHeight < 40"), path
