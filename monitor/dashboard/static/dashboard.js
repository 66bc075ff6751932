// The live dashboard: one EventSource per view; every post field is set with textContent, never HTML.
(function () {
  "use strict";
  const body = document.body;
  const L = JSON.parse(document.getElementById("labels").textContent);
  const T = (k) => L.text[k] || k;
  const tz = body.dataset.timezone || "Asia/Shanghai";
  const locale = body.dataset.lang === "en" ? "en-GB" : "zh-CN";
  const fmtTime = new Intl.DateTimeFormat(locale, { timeZone: tz, month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hour12: false });
  const PALETTE = ["#2f6fde", "#12a37f", "#8a5cf6", "#e38b12", "#0ea5b7", "#c2417b"];
  const BAND_COLORS = { negative: "#e0483e", neutral: "#9aa5b1", positive: "#2aa876", unknown: "#d5dbe1" };
  const state = { updates: 0, source: null, data: null, negatives: 0, negativesView: null, negativesSeq: 0 };
  window.__cw = state;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // Tooltips are DOM nodes built with textContent, so no name or value is ever parsed as HTML.
  function tip(params) {
    const list = Array.isArray(params) ? params : [params];
    const box = el("div", "tip");
    if (list.length && list[0].axisValue !== undefined) {
      box.appendChild(el("div", "tip-head", fmtTime.format(new Date(list[0].axisValue))));
    }
    for (const p of list) {
      const row = el("div", "tip-row");
      const dot = el("i", "tip-dot");
      dot.style.background = p.color;
      row.appendChild(dot);
      const value = Array.isArray(p.value) ? p.value[1] : p.value;
      row.appendChild(el("span", null, `${p.seriesType === "pie" ? p.name : (p.seriesName || p.name)}: ${value}` +
        (p.percent !== undefined ? ` (${p.percent}%)` : "")));
      box.appendChild(row);
    }
    return box;
  }

  const charts = {};
  function chart(id) {
    if (!charts[id]) {
      charts[id] = echarts.init(document.getElementById(id), null, { renderer: "canvas" });
    }
    return charts[id];
  }
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  const baseText = { fontFamily: "inherit", color: "#4a5563" };

  const brandName = (key) => (state.data && state.data.brand_names[key]) || key;

  function drawTimeline(tl) {
    const slots = tl.slots.map((s) => Date.parse(s));
    const partial = tl.partial;  // the newest bucket, still filling: drawn dashed and faint, not as a drop
    const series = [];
    tl.series.forEach((s, i) => {
      const color = PALETTE[i % PALETTE.length];
      series.push({
        name: brandName(s.brand), type: "line", smooth: 0.25, showSymbol: false, areaStyle: { opacity: 0.08 },
        lineStyle: { width: 2 }, color,
        data: s.data.map((n, j) => [slots[j], j === partial ? null : n]),
      });
      if (partial !== null && partial > 0) {
        series.push({
          name: brandName(s.brand), type: "line", showSymbol: true, symbol: "emptyCircle", color,
          lineStyle: { width: 2, type: "dashed", opacity: 0.6 }, tooltip: { show: false },
          data: [[slots[partial - 1], s.data[partial - 1]], [slots[partial], s.data[partial]]],
        });
      }
    });
    series.push({
      name: T("negative"), type: "bar", barMaxWidth: 8, color: "#e0483e", itemStyle: { opacity: 0.75 },
      data: tl.negative.map((n, j) => (j === partial
        ? { value: [slots[j], n], itemStyle: { opacity: 0.3 } } : [slots[j], n])),
      markLine: {
        symbol: ["none", "none"], silent: false,
        lineStyle: { color: "#b42318", type: "dashed", width: 1.5 },
        label: { formatter: (p) => p.name, color: "#b42318", fontWeight: "bold", position: "end" },
        data: tl.incidents.map((inc) => ({ name: `${inc.label} ${T(inc.dismissed ? "false_alarm" : inc.level)}`,
                                          xAxis: Date.parse(inc.at) })),
      },
    });
    if (partial !== null) {
      series[series.length - 1].markArea = { silent: true, itemStyle: { color: "rgba(154,165,177,0.12)" },
        label: { show: true, formatter: T("partial_bucket"), color: "#6b7785", position: "insideTop" },
        data: [[{ xAxis: slots[partial] }, { xAxis: slots[partial] + (tl.interval || 0) * 1000 }]] };
    }
    chart("chart-timeline").setOption({
      textStyle: baseText, animation: false,
      grid: { left: 44, right: 60, top: 48, bottom: 30 },
      legend: { top: 0, left: 0, textStyle: baseText },
      tooltip: { trigger: "axis", formatter: tip, className: "cw-tip" },
      xAxis: { type: "time", axisLabel: { formatter: (v) => fmtTime.format(new Date(v)), hideOverlap: true } },
      yAxis: { type: "value", minInterval: 1, splitLine: { lineStyle: { color: "#eef1f4" } } },
      series,
    }, { notMerge: true });
  }

  // no posts (yet) in the view: a line saying so, not an empty grey ring or blank axes
  function drawOrSay(id, pairs, emptyText, draw) {
    const note = document.getElementById(id + "-empty");
    note.textContent = emptyText;
    note.hidden = pairs.length > 0;
    if (pairs.length) draw();
    else chart(id).clear();
  }

  function drawPie(id, pairs, name, colorOf, labelOf) {
    chart(id).setOption({
      textStyle: baseText, animation: false,
      tooltip: { trigger: "item", formatter: tip, className: "cw-tip" },
      legend: { bottom: 0, type: "scroll", textStyle: baseText },
      series: [{
        name, type: "pie", radius: ["45%", "70%"], center: ["50%", "44%"], avoidLabelOverlap: true,
        label: { formatter: "{d}%", color: "#4a5563" },
        data: pairs.map(([k, n], i) => ({ name: labelOf(k), value: n,
          itemStyle: { color: colorOf(k, i) } })),
      }],
    }, { notMerge: true });
  }

  function drawBars(id, pairs, name, color, labelOf) {
    const rows = pairs.slice().reverse();
    chart(id).setOption({
      textStyle: baseText, animation: false,
      grid: { left: 8, right: 36, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "item", formatter: tip, className: "cw-tip" },
      xAxis: { type: "value", show: false },
      yAxis: { type: "category", data: rows.map(([k]) => labelOf(k)), axisTick: { show: false },
        axisLine: { show: false } },
      series: [{ name, type: "bar", data: rows.map(([, n]) => n), color, barMaxWidth: 14,
        label: { show: true, position: "right", color: "#4a5563" }, itemStyle: { borderRadius: [0, 3, 3, 0] } }],
    }, { notMerge: true });
  }

  function empty(node, text, cols) {
    const row = cols ? el("tr") : el("li", "muted empty", text);
    if (cols) {
      const cell = el("td", "muted empty", text);
      cell.colSpan = cols;
      row.appendChild(cell);
    }
    node.replaceChildren(row);
  }

  function fillAuthors(authors, d) {
    const tbody = document.getElementById("authors");
    if (!authors.length) {
      empty(tbody, d.view.source && d.total ? T("no_authors_source") : T("no_authors"), 4);
      return;
    }
    tbody.replaceChildren(...authors.map((a) => {
      const tr = el("tr");
      const name = el("td", "name");
      const link = el("a", null, a.name || a.author_id);
      link.href = "/mentions?" + new URLSearchParams({ q: a.name || a.author_id, ...viewParams(d) });
      name.appendChild(link);
      if (a.verified) name.appendChild(el("span", "v", "V"));
      // null: the source gave no count (not 0)
      tr.append(name, el("td", "num", a.followers === null ? T("unknown") : a.followers.toLocaleString(locale)),
        el("td", "num", a.mentions),
        el("td", "num neg", a.negative));
      return tr;
    }));
  }

  function viewParams(d) {
    const out = {};
    for (const [k, v] of Object.entries(d.view)) if (v && !(k === "range" && v === "24h")) out[k] = v;
    return out;
  }

  function postItem(p) {
    const li = el("li", "post-item");
    const a = el("a");
    a.href = "/mentions/" + encodeURIComponent(p.id);
    const head = el("div", "meta");
    head.append(el("b", null, p.author || "—"), el("span", "muted",
      ` · ${p.followers === null ? T("followers_unknown") : p.followers.toLocaleString(locale) + " " + T("followers")}` +
      ` · ${L.sources[p.source] || p.source}` +
      ` · ${fmtTime.format(new Date(p.created_at))}`));
    if (p.severity) head.appendChild(el("span", "sev sev-" + p.severity, p.severity));
    if (p.lang) {
      const lang = el("span", "tag lang", L.languages[p.lang] || p.lang);
      lang.dataset.lang = p.lang;
      head.appendChild(lang);
    }
    a.append(head, el("p", "text", p.text));
    const e = p.engagement || {};
    if (e.reposts || e.comments || e.likes) {
      a.appendChild(el("div", "muted small", `${T("reposts")} ${e.reposts} · ${T("comments")} ${e.comments}` +
        ` · ${T("likes")} ${e.likes}`));
    }
    li.appendChild(a);
    return li;
  }

  // the view's negative posts by reach from `offset`, `count` at most, a page per request
  async function negativePosts(d, offset, count) {
    const out = [];
    while (out.length < count) {
      const params = new URLSearchParams({ ...viewParams(d), offset: String(offset + out.length) });
      const reply = await fetch("/api/negatives?" + params, { headers: { accept: "application/json" } });
      if (!reply.ok) break;
      const page = (await reply.json()).posts;
      if (!page.length) break;
      out.push(...page);
    }
    return out.slice(0, count);
  }

  // A live update redraws the list with as many posts as the reader had loaded with "more" (in the same
  // view), all at once and at the same scroll position: during an incident updates come every few seconds.
  async function fillNegatives(posts, d) {
    const list = document.getElementById("negatives");
    const seq = ++state.negativesSeq;
    const view = JSON.stringify(d.view);
    document.getElementById("negatives-count").textContent = T("of_total").replace("{n}", d.negative.toLocaleString(locale));
    let all = posts;
    const shown = state.negativesView === view ? state.negatives : 0;
    if (shown > posts.length && posts.length) {
      const seen = new Set(posts.map((p) => p.id));
      const rest = await negativePosts(d, posts.length, shown - posts.length);
      if (seq !== state.negativesSeq) return;  // a newer update drew the list meanwhile
      all = posts.concat(rest.filter((p) => !seen.has(p.id)));
    }
    state.negatives = all.length;
    state.negativesView = view;
    if (!all.length) {
      empty(list, T("no_negative"));
    } else {
      const top = list.scrollTop;
      list.replaceChildren(...all.map(postItem));
      list.scrollTop = top;
    }
    document.getElementById("negatives-more").hidden = all.length >= d.negative;
  }

  // more negative posts, the next page by reach in the view the page shows now
  document.getElementById("negatives-more").addEventListener("click", async () => {
    if (!state.data) return;
    const seq = state.negativesSeq;
    const page = await negativePosts(state.data, state.negatives, 10);
    if (seq !== state.negativesSeq) return;  // the list was redrawn meanwhile; the next click reads from it
    const list = document.getElementById("negatives");
    const seen = new Set([...list.querySelectorAll("a")].map((a) => a.getAttribute("href")));
    for (const p of page) {
      const item = postItem(p);
      if (seen.has(item.querySelector("a").getAttribute("href"))) continue;
      list.appendChild(item);
      state.negatives += 1;
    }
    document.getElementById("negatives-more").hidden = !page.length || state.negatives >= state.data.negative;
  });

  function compare(id, now, before) {
    const node = document.getElementById(id);
    if (!before) {
      node.textContent = `${T("vs_previous")} –`;
      return;
    }
    const change = (100 * (now - before)) / before;
    node.textContent = `${T("vs_previous")} ${change >= 0 ? "+" : ""}${change.toFixed(0)}%`;
    node.className = "vs " + (change > 0 ? "up" : change < 0 ? "down" : "");
  }

  function countdown(due) {
    const ms = Date.parse(due) - Date.now();
    const abs = Math.abs(ms);
    const h = Math.floor(abs / 3600000), m = Math.floor((abs % 3600000) / 60000), s = Math.floor((abs % 60000) / 1000);
    const text = `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
    return ms >= 0 ? { text, late: false } : { text: `${T("overdue")} ${text}`, late: true };
  }

  function fillIncidents(incidents, total) {
    const list = document.getElementById("incidents");
    if (!incidents.length) {
      list.replaceChildren(el("li", "muted", T("no_incidents")));
      return;
    }
    list.replaceChildren(...incidents.map((inc) => {
      const li = el("li", "incident level-" + inc.level);
      const head = el("div", "meta");
      const open = el("a", "incident-link", `${brandName(inc.brand)} · ${inc.label}`);
      open.href = "/incidents/" + encodeURIComponent(inc.id);
      head.append(open, el("span", "tag", T(inc.level)),
        el("span", "muted", `${T("opened_at")} ${fmtTime.format(new Date(inc.opened_at))}`));
      li.append(head, el("p", "text", inc.why[body.dataset.lang === "en" ? "en" : "zh"]));
      const foot = el("div", "sla");
      if (inc.ticket) {
        const link = el("a", null, inc.ticket.number);
        link.href = "/tickets/" + encodeURIComponent(inc.ticket.number);
        const timer = !inc.ticket.acknowledged ? ["ack_due", inc.ticket.ack_due] : ["resolve_due", inc.ticket.resolve_due];
        const clock = el("span", "countdown");
        clock.dataset.due = timer[1];
        foot.append(link, el("span", "muted", ` ${inc.ticket.status} · ${T(timer[0])} `), clock);
      } else {
        foot.appendChild(el("span", "muted", T("no_ticket")));
      }
      foot.appendChild(el("span", inc.acked_by ? "ok" : "bad", inc.acked_by ? ` · ${T("acked_by")} ${inc.acked_by}` : ` · ${T("not_acked")}`));
      li.appendChild(foot);
      return li;
    }));
    if (total > incidents.length) {
      list.appendChild(el("li", "muted", T("incidents_newest").replace("{n}", incidents.length).replace("{total}", total)));
    }
    tick();
  }

  function tick() {
    for (const node of document.querySelectorAll(".countdown[data-due]")) {
      const c = countdown(node.dataset.due);
      node.textContent = c.text;
      node.classList.toggle("late", c.late);
    }
  }
  setInterval(tick, 1000);

  function render(d) {
    state.data = d;
    document.getElementById("kpi-total").textContent = d.total.toLocaleString(locale);
    document.getElementById("kpi-negative").textContent = d.negative.toLocaleString(locale);
    document.getElementById("kpi-share").textContent = d.total ? `${(100 * d.negative / d.total).toFixed(1)}%` : "–";
    document.getElementById("kpi-incidents").textContent = d.open_incidents_total;
    document.getElementById("kpi-breached").textContent = d.breached_tickets;
    compare("kpi-total-vs", d.total, d.previous.total);
    compare("kpi-negative-vs", d.negative, d.previous.negative);
    drawTimeline(d.timeline);
    const none = T(d.total ? "no_categories" : "no_posts");
    drawOrSay("chart-sentiment", d.sentiment, T("no_posts"),
      () => drawPie("chart-sentiment", d.sentiment, T("sentiment"), (k) => BAND_COLORS[k] || "#ccc", (k) => T(k)));
    drawOrSay("chart-categories", d.categories, none,
      () => drawBars("chart-categories", d.categories, T("categories"), "#e38b12", (k) => L.categories[k] || k));
    drawOrSay("chart-sources", d.sources, T("no_posts"), () => drawPie("chart-sources", d.sources, T("sources"),
      (k, i) => PALETTE[i % PALETTE.length], (k) => L.sources[k] || k));
    drawBars("chart-terms", d.terms, T("terms"), "#2f6fde", (k) => k);
    document.getElementById("terms-empty").hidden = d.terms.length > 0;
    fillAuthors(d.authors, d);
    fillNegatives(d.negative_posts, d);
    fillIncidents(d.incidents, d.open_incidents_total);
    state.updates += 1;
    body.dataset.updates = String(state.updates);
    const shown = new URLSearchParams();
    for (const [k, v] of Object.entries(d.view)) if (v) shown.set(k, v);
    body.dataset.view = shown.toString();  // which view the page shows now (the URL may be ahead of it)
    live("on", `${T("live")} · ${T("updated")} ${fmtTime.format(new Date(d.generated_at))}`);
  }

  function live(mode, text) {
    const box = document.getElementById("live");
    box.dataset.state = mode;
    document.getElementById("live-text").textContent = text;
  }

  // The filters live in the URL: changing one rewrites the address (shareable) and reopens the stream.
  const form = document.getElementById("filters");
  function query() {
    const params = new URLSearchParams();
    for (const select of form.querySelectorAll("select")) {
      if (select.value && !(select.name === "range" && select.value === "24h")) params.set(select.name, select.value);
    }
    return params;
  }
  function connect() {
    if (state.source) state.source.close();
    const params = query();
    state.source = new EventSource("/api/stream" + (params.toString() ? "?" + params : ""));
    state.source.addEventListener("overview", (ev) => render(JSON.parse(ev.data)));
    // the index cannot be read: one line in the live box; the last figures stay until the next overview
    state.source.addEventListener("unavailable", (ev) => live("off", JSON.parse(ev.data).error));
    state.source.onerror = () =>
      live("off", T(state.source.readyState === EventSource.CLOSED ? "stream_closed" : "offline"));
  }
  form.addEventListener("change", () => {
    const params = query();
    const lang = new URLSearchParams(location.search).get("lang");
    if (lang) params.set("lang", lang);
    history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : ""));
    connect();
  });
  form.addEventListener("submit", (ev) => { ev.preventDefault(); });
  connect();
})();
