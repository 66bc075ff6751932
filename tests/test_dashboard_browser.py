"""The dashboard in a real headless Chromium: charts render, live updates arrive, conversion works, no XSS.

Chromium is Debian's package (`make test` installs it); without it these tests fail with that message.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from index import open_backend
from tests.browser.dashboard_site import (
    HOSTILE_TEXTS,
    browser_login,
    build_site,
    chromium_page,
    fresh_mention,
    hostile_mentions,
    serve,
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
            for (const d of s.data) total += Array.isArray(d) ? d[1] : (typeof d === 'object' ? d.value : d);
        return total;
    }""", chart_id)


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
        assert page.locator("#negatives li").count() == len(api["latest_negative"]) > 0
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
        page.locator("#negatives li", has_text="极光优选的仓库又把我的快递弄丢了").wait_for(timeout=15_000)
        assert int(page.inner_text("#kpi-total").replace(",", "")) == before + 1
        assert "极光优选的仓库又把我的快递弄丢了" in page.inner_text("#negatives")
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
        assert page.input_value("select[name=department]")
        page.click("#convert")
        page.wait_for_url(f"{base}/tickets/CW-*")
        assert "新建" in page.inner_text("h1")
        assert "创建" in page.inner_text("#timeline")  # the event, in the interface language
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
