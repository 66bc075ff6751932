// The incident page: the curve (volume, negative share, the incident's window and the usual level) and
// the clocks (how long it has lasted, time left in the golden window). Text is set with textContent only.
(function () {
  "use strict";
  const body = document.body;
  const L = JSON.parse(document.getElementById("labels").textContent);
  const T = (k) => L.text[k] || k;
  const curve = JSON.parse(document.getElementById("incident-curve").textContent);
  const tz = body.dataset.timezone || "Asia/Shanghai";
  const zh = body.dataset.lang !== "en";
  const fmtTime = new Intl.DateTimeFormat(zh ? "zh-CN" : "en-GB", { timeZone: tz, month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hour12: false });

  function span(ms) {
    const minutes = Math.max(0, Math.floor(ms / 60000));
    const d = Math.floor(minutes / 1440), h = Math.floor((minutes % 1440) / 60), m = minutes % 60;
    const parts = zh ? [d && `${d} 天`, h && `${h} 小时`, (m || !(d || h)) && `${m} 分钟`]
      : [d && `${d} d`, h && `${h} h`, (m || !(d || h)) && `${m} min`];
    return parts.filter(Boolean).join(" ");
  }

  function tick() {
    const lasting = document.getElementById("inc-duration");
    if (lasting && lasting.dataset.since) lasting.textContent = span(Date.now() - Date.parse(lasting.dataset.since));
    const golden = document.getElementById("inc-golden");
    if (golden && golden.dataset.due) {
      const left = Date.parse(golden.dataset.due) - Date.now();
      const abs = Math.abs(left);
      const clock = `${Math.floor(abs / 3600000)}:${String(Math.floor((abs % 3600000) / 60000)).padStart(2, "0")}:` +
        String(Math.floor((abs % 60000) / 1000)).padStart(2, "0");
      golden.textContent = left >= 0 ? `${T("golden_left")} ${clock}` : `${T("overdue")} ${clock}`;
      golden.classList.toggle("late", left < 0);
    }
  }
  tick();
  setInterval(tick, 1000);

  // What is being done changes while the lead watches (an acknowledgement, an escalation, a ticket or statement
  // step): the page asks every few seconds and redraws itself, at the same scroll position, when it has.
  const head = document.getElementById("incident-head");
  const poll = setInterval(async () => {
    let reply;
    try {
      reply = await fetch(`/api/incidents/${head.dataset.incident}/mark`, { headers: { accept: "application/json" } });
    } catch (err) {
      return;  // offline for a moment: ask again next time
    }
    if (reply.status === 401) {
      clearInterval(poll);  // the session ended: the next click goes to the login page
      return;
    }
    if (!reply.ok) return;
    const { mark } = await reply.json();
    if (mark !== head.dataset.mark) location.reload();
  }, Number(head.dataset.poll) || 5000);

  const slots = curve.slots.map((s) => Date.parse(s));
  const partial = curve.partial;
  const bars = curve.total.map((n, i) => ({ value: [slots[i], n],
    itemStyle: i === partial ? { opacity: 0.35, borderType: "dashed", borderColor: "#2f6fde", borderWidth: 1 } : undefined }));
  const share = curve.share.map((v, i) => [slots[i], v === null || i === partial ? null : Math.round(v * 1000) / 10]);
  const volume = {
    name: T("volume"), type: "bar", data: bars, color: "#2f6fde", barMaxWidth: 10,
    markArea: { silent: true, itemStyle: { color: "rgba(224,72,62,0.10)" },
      data: [[{ name: curve.label, xAxis: Date.parse(curve.opened_at) }, { xAxis: Date.parse(curve.until) }]] },
  };
  if (curve.baseline !== null) {
    volume.markLine = { symbol: ["none", "none"], silent: true, lineStyle: { color: "#6b7785", type: "dashed" },
      label: { formatter: T("usual_level"), position: "insideEndTop", color: "#6b7785" },
      data: [{ yAxis: curve.baseline }] };
  }
  if (partial !== null) {
    volume.markPoint = { symbol: "pin", symbolSize: 1, label: { show: true, formatter: T("partial_bucket"), color: "#6b7785",
      position: "top" }, data: [{ coord: [slots[partial], curve.total[partial]] }] };
  }
  const chart = echarts.init(document.getElementById("chart-incident"), null, { renderer: "canvas" });
  window.__incidentChart = chart;
  chart.setOption({
    textStyle: { fontFamily: "inherit", color: "#4a5563" }, animation: false,
    grid: { left: 48, right: 56, top: 40, bottom: 30 },
    legend: { top: 0, left: 0 },
    tooltip: { trigger: "axis", className: "cw-tip", formatter: (params) => {
      const box = document.createElement("div");
      const head = document.createElement("div");
      head.className = "tip-head";
      head.textContent = fmtTime.format(new Date(params[0].axisValue));
      box.appendChild(head);
      for (const p of params) {
        const row = document.createElement("div");
        const value = Array.isArray(p.value) ? p.value[1] : p.value;
        row.textContent = `${p.seriesName}: ${value === null ? "–" : value}${p.seriesIndex === 1 ? "%" : ""}`;
        box.appendChild(row);
      }
      return box;
    } },
    xAxis: { type: "time", axisLabel: { formatter: (v) => fmtTime.format(new Date(v)), hideOverlap: true } },
    yAxis: [{ type: "value", minInterval: 1, splitLine: { lineStyle: { color: "#eef1f4" } } },
      { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" }, splitLine: { show: false } }],
    series: [volume, { name: T("negative_share"), type: "line", yAxisIndex: 1, data: share, color: "#e0483e",
      showSymbol: false, connectNulls: false, lineStyle: { width: 2 } }],
  });
  window.addEventListener("resize", () => chart.resize());
})();
