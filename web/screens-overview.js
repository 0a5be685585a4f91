// The tenant at a glance on the admin screen: the report (enrolled share, locks, 30 days of logons as an SVG
// chart of the page's own drawing, with its numbers in a table), the user list with filters, paging, unlock and
// its CSV export, and the temporary access pass of one user (issued once, deleted).
"use strict";

const REPORT_DAYS = 30;
const LIST_PAGE = 50;
const FILTERS = ["all", "no_factor", "locked"];
const SERIES = [["verified", "#1a5fd6"], ["failed", "#c77700"], ["locked", "#b3261e"]];
// Colours as SVG presentation attributes: the page's Content-Security-Policy refuses inline style attributes.
function swatch(color) {
  return svg("svg", { class: "swatch", viewBox: "0 0 10 10", "aria-hidden": "true", focusable: "false" },
    svg("rect", { width: 10, height: 10, rx: 2, fill: color }));
}
const SVG_NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) if (value !== null && value !== undefined) el.setAttribute(name, value);
  for (const child of children.flat()) if (child !== null && child !== undefined) el.append(child instanceof Node ? child : String(child));
  return el;
}

function percent(part, whole) {
  return whole ? Math.round((100 * part) / whole) : 0;
}

function dayText(date) {
  return new Intl.DateTimeFormat(state.lang, { month: "short", day: "numeric", timeZone: "UTC" }).format(new Date(date + "T00:00:00Z"));
}

/** The report card: what share of users has a verification method, the locks and passwords, the days chart. */
function overviewCard() {
  const r = state.v.report;
  if (!r) {
    return h("div", { class: "card", id: "overview" }, h("h3", null, t("overview.title")),
      h("p", { class: "error" }, errorText(state.v.reportError)));
  }
  const e = r.enrolled;
  const phoneOnly = Math.max(0, e.any - e.authenticator);
  const parts = [["authenticator", e.authenticator, "#1a5fd6"], ["phone_only", phoneOnly, "#5b8def"], ["none", e.none, "#c9ced6"]];
  const share = percent(e.any, r.users);
  let x = 0;
  const total = Math.max(1, r.users);
  const bar = svg("svg", { class: "share-bar", viewBox: "0 0 100 4", preserveAspectRatio: "none", role: "img",
    "aria-label": t("overview.share_alt", { pct: share, any: e.any, users: r.users }) },
  svg("rect", { width: 100, height: 4, fill: "#eef0f3" }),
  parts.map(([key, n, color]) => {
    const w = (100 * n) / total;
    const rect = n ? svg("rect", { x, width: w, height: 4, fill: color, "data-part": key }) : null;
    x += w;
    return rect;
  }));
  return h("div", { class: "card", id: "overview" },
    h("h3", null, t("overview.title")),
    h("div", { class: "tiles" },
      h("div", { class: "tile big" },
        h("p", { class: "figure", id: "overview-share" }, t("overview.pct", { pct: share })),
        h("p", null, t("overview.share", { any: e.any, users: r.users }))),
      h("div", { class: "tile" }, h("p", { class: "figure", id: "overview-locked" }, String(r.locked_now)), h("p", null, t("overview.locked_now"))),
      h("div", { class: "tile" }, h("p", { class: "figure", id: "overview-app-passwords" }, String(r.app_passwords)), h("p", null, t("overview.app_passwords")))),
    bar,
    h("ul", { class: "legend", id: "overview-share-legend" }, parts.map(([key, n, color]) =>
      h("li", { "data-part": key }, swatch(color),
        t("overview.part." + key), " ", h("strong", null, String(n)), " (" + t("overview.pct", { pct: percent(n, r.users) }) + ")"))),
    daysChart(r.days));
}

/** The axis's top: four whole steps of 1, 2, 3 or 5 times a power of ten, so every grid line is a whole number
 * and the tallest bar fills most of the chart (a day of 10 gets an axis of 12, not 20). */
function niceMax(value) {
  const wanted = Math.max(1, Math.ceil(value / 4));
  const power = 10 ** Math.floor(Math.log10(wanted));
  return 4 * [1, 2, 3, 5, 10].map((m) => m * power).find((m) => m >= wanted);
}

function daysChart(days) {
  const narrow = window.matchMedia("(max-width: 40rem)").matches;
  const W = narrow ? 340 : 680;
  const H = narrow ? 220 : 240;
  const left = 34, right = 8, top = 12, bottom = 28;
  const plotW = W - left - right, plotH = H - top - bottom;
  const totals = days.map((d) => d.verified + d.failed + d.locked);
  const max = niceMax(Math.max(0, ...totals));
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(2, slot * 0.7);
  const y = (v) => top + plotH - (v / max) * plotH;
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const v = Math.round(max * f);
    return svg("g", null,
      svg("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), stroke: f ? "#dfe3ea" : "#9aa1ad", "stroke-width": 1 }),
      svg("text", { x: left - 5, y: y(v) + 4, "text-anchor": "end", class: "tick" }, String(v)));
  });
  const every = narrow ? 7 : 5;
  const bars = days.map((d, i) => {
    let base = 0;
    const x = left + i * slot + (slot - barW) / 2;
    const stack = SERIES.map(([key, color]) => {
      const n = d[key] || 0;
      if (!n) return null;
      const rect = svg("rect", { x, width: barW, y: y(base + n), height: y(base) - y(base + n), fill: color, "data-series": key });
      base += n;
      return rect;
    });
    const label = (days.length - 1 - i) % every === 0
      // The last day's label ends at the bar's right edge: centred, it would be cut off at the edge of the chart.
      ? svg("text", { x: i === days.length - 1 ? x + barW + 2 : x + barW / 2, y: H - bottom + 16,
        "text-anchor": i === days.length - 1 ? "end" : "middle", class: "tick" }, dayText(d.date)) : null;
    return svg("g", { "data-date": d.date }, stack, label);
  });
  const title = t("overview.chart_title", { n: days.length });
  const chart = svg("svg", {
    viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-labelledby": "chart-title chart-desc", id: "days-chart",
    preserveAspectRatio: "xMidYMid meet",
  },
  svg("title", { id: "chart-title" }, title),
  svg("desc", { id: "chart-desc" }, t("overview.chart_desc", {
    verified: sum(days, "verified"), failed: sum(days, "failed"), locked: sum(days, "locked"),
  })),
  grid, bars);
  return h("figure", { class: "days" },
    h("figcaption", null, h("h4", null, title)),
    h("ul", { class: "legend" }, SERIES.map(([key, color]) =>
      h("li", null, swatch(color), t("overview.series." + key), " ",
        h("strong", { id: "total-" + key }, String(sum(days, key)))))),
    chart,
    h("details", null,
      h("summary", null, t("overview.numbers")),
      h("table", { class: "numbers", id: "days-table" },
        h("caption", { class: "hint" }, title),
        h("thead", null, h("tr", null, h("th", { scope: "col" }, t("overview.date")),
          SERIES.map(([key]) => h("th", { scope: "col" }, t("overview.series." + key))))),
        h("tbody", null, days.map((d) => h("tr", null, h("th", { scope: "row" }, dayText(d.date)),
          SERIES.map(([key]) => h("td", null, String(d[key] || 0)))))))));
}

function sum(days, key) {
  return days.reduce((n, d) => n + (d[key] || 0), 0);
}

/** The user list card: filter buttons, a table (cards at 360 px), paging, CSV export. */
function usersCard() {
  const list = state.v.list;
  const filters = h("div", { class: "segmented", role: "group", "aria-label": t("users.filter") },
    FILTERS.map((f) => h("button", {
      type: "button", class: "secondary", "aria-pressed": String(list.filter === f), id: "filter-" + f,
      onclick: (e) => act(e.currentTarget, () => loadList(f, null, [])),
    }, t("users.filter." + f))));
  const rows = list.rows || [];
  const now = new Date();
  const methods = (r) => [r.authenticator ? t("users.authenticator") : null, r.phone ? t("users.phone") : null].filter(Boolean).join(t("list.separator")) || t("users.none");
  const table = list.error ? h("p", { class: "error" }, errorText(list.error)) : !rows.length ? h("p", { class: "empty" }, t("users.empty." + list.filter))
    : h("table", { class: "stack", id: "users" },
      h("caption", { class: "hint" }, t("users.caption." + list.filter, { n: rows.length })),
      h("thead", null, h("tr", null, ["users.user", "users.methods", "admin.locked", "users.last_logon", "devices.action"].map((k) => h("th", { scope: "col" }, t(k))))),
      h("tbody", null, rows.map((r) => {
        const locked = r.locked_until && new Date(r.locked_until) > now;
        return h("tr", { "data-user": r.user },
          h("td", { "data-label": t("users.user") }, r.user),
          h("td", { "data-label": t("users.methods") }, methods(r)),
          h("td", { "data-label": t("admin.locked") }, locked ? t("admin.locked_until", { time: dateText(r.locked_until) }) : t("admin.not_locked")),
          h("td", { "data-label": t("users.last_logon") }, r.last_logon_at ? dateText(r.last_logon_at) : "-"),
          h("td", { "data-label": t("devices.action"), class: "actions" }, h("div", { class: "row-actions" },
            h("button", { type: "button", class: "secondary", "aria-label": t("users.open_one", { user: r.user }), onclick: (e) => act(e.currentTarget, () => openUser(r.user)) }, t("users.open")),
            locked ? h("button", { type: "button", class: "secondary", "aria-label": t("users.unlock_one", { user: r.user }), onclick: (e) => act(e.currentTarget, () => unlockRow(r.user)) }, t("button.unlock")) : null,
            h("button", { type: "button", class: "secondary", "aria-label": t("pass.issue_one", { user: r.user }), onclick: (e) => act(e.currentTarget, () => openUser(r.user, true)) }, t("pass.issue")))));
      })));
  return h("div", { class: "card", id: "users-card" },
    h("h3", null, t("users.title")),
    filters,
    table,
    h("div", { class: "buttons", id: "users-buttons" },
      list.stack && list.stack.length ? button(t("users.previous"), () => loadList(list.filter, list.stack[list.stack.length - 1], list.stack.slice(0, -1)), "secondary") : null,
      list.next ? button(t("users.next"), () => loadList(list.filter, list.next, [...(list.stack || []), list.cursor])) : null,
      button(t("users.export"), exportCsv, "secondary")));
}

async function fetchReport() {
  try {
    return { report: (await api("GET", "v1/admin/report?days=" + REPORT_DAYS)).data, reportError: null };
  } catch (error) {
    if (error instanceof Stale || error.code === "unauthorized") throw error;
    return { report: null, reportError: error };
  }
}

async function fetchList(filter, cursor, stack) {
  try {
    const page = await api("GET", `v1/admin/users?filter=${filter}&limit=${LIST_PAGE}` + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    return { filter, cursor, stack, rows: page.data, next: page.headers.get("X-Next-Cursor") };
  } catch (error) {
    if (error instanceof Stale || error.code === "unauthorized") throw error;
    return { filter, cursor, stack, rows: [], next: null, error };
  }
}

async function loadList(filter, cursor, stack) {
  state.v.list = await fetchList(filter, cursor, stack);
  render({ keepInputs: true, focus: "#filter-" + filter });
}

async function unlockRow(user) {
  await api("POST", "v1/admin/users/" + encodeURIComponent(user) + "/unlock", {});
  const list = state.v.list;
  const [report, fresh] = await Promise.all([fetchReport(), fetchList(list.filter, list.cursor, list.stack)]);
  Object.assign(state.v, report, { list: fresh });
  if (state.v.lookup && state.v.lookup.user === user) state.v.lookup = await fetchUser(user);
  render({ keepInputs: true, focus: "#filter-" + list.filter });
  announce(t("status.unlocked", { user }), "#users-buttons");
}

/** The user lookup below, for this user (and the access pass's hours asked at once, from a row's button). */
async function openUser(user, issuing) {
  state.v.lookup = await fetchUser(user);
  if (issuing) state.v.lookup.pass = { step: "choose" };
  render({ focus: false });
  $("#lookup-user").value = user;
  const target = issuing ? $("#pass-hours") : $("#user-summary");
  if (target.tagName === "DIV") target.tabIndex = -1;
  target.scrollIntoView({ block: "center" });
  target.focus();
}

/** Every page of the list as CSV (one header line), saved as users.csv. */
async function exportCsv() {
  const filter = state.v.list.filter;
  const lines = [];
  let cursor = null;
  do {
    const page = await apiText("GET", `v1/admin/users?filter=${filter}&limit=1000` + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""), "text/csv");
    const rows = page.text.split(/\r?\n/).filter((line) => line !== "");
    lines.push(...(lines.length ? rows.slice(1) : rows));
    cursor = page.headers.get("X-Next-Cursor");
  } while (cursor);
  const url = URL.createObjectURL(new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" }));
  const link = h("a", { href: url, download: "users.csv", hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  announce(t("status.exported", { n: Math.max(0, lines.length - 1) }), "#users-buttons");
}

/** The temporary access pass of the looked-up user: issue (hours, confirm), shown once, or delete. */
function accessPassPanel(lookup) {
  const pass = lookup.pass || {};
  if (pass.step === "issued") {
    return h("div", { class: "card inner", id: "pass-issued" },
      h("h4", null, t("pass.issued_title", { user: lookup.user })),
      h("p", { class: "once mono pass", id: "pass-value", "data-once": true }, pass.access_pass),
      h("p", null, t("pass.expires", { time: dateText(pass.expires_at) })),
      h("p", null, t("pass.once")),
      h("div", { class: "buttons" },
        button(t("button.copy"), async () => {
          await navigator.clipboard.writeText(pass.access_pass);
          announce(t("status.copied"), "#pass-issued .buttons");
        }, "secondary"),
        button(t("button.done"), async () => { lookup.pass = null; render({ keepInputs: true, focus: "#pass-buttons button" }); })));
  }
  if (pass.step === "choose") {
    return h("div", { class: "warning", id: "pass-choose", role: "group", "aria-label": t("pass.issue") },
      h("p", null, t("pass.confirm", { user: lookup.user })),
      field("pass-hours", t("pass.hours"), h("input", { type: "number", inputmode: "numeric", min: "1", max: "72", step: "1", value: "8" }), t("pass.hours_hint")),
      h("p", { class: "error", id: "pass-error", role: "alert" }),
      h("div", { class: "buttons" },
        button(t("pass.confirm_issue"), issuePass),
        button(t("button.cancel"), async () => { lookup.pass = null; render({ keepInputs: true, focus: "#pass-buttons button" }); }, "secondary")));
  }
  return h("div", { class: "buttons", id: "pass-buttons" },
    button(t("pass.issue"), async () => { lookup.pass = { step: "choose" }; render({ keepInputs: true, focus: "#pass-hours" }); }, "secondary"),
    button(t("pass.delete"), deletePass, "danger"));
}

async function issuePass() {
  const lookup = state.v.lookup;
  const input = $("#pass-hours");
  const hours = Number(input.value);
  if (!Number.isInteger(hours) || hours < 1 || hours > 72) {
    $("#pass-error").textContent = t("error.range", { label: t("pass.hours"), min: 1, max: 72 });
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  const issued = (await api("POST", "v1/admin/users/" + encodeURIComponent(lookup.user) + "/access-pass", { hours })).data;
  lookup.pass = { step: "issued", ...issued };
  render({ keepInputs: true, focus: "#pass-issued h4" });
}

async function deletePass() {
  const user = state.v.lookup.user;
  let said = "status.pass_deleted";
  try {
    await api("DELETE", "v1/admin/users/" + encodeURIComponent(user) + "/access-pass");
  } catch (error) {
    if (error.code !== "not_found") throw error;
    said = "status.no_pass";
  }
  announce(t(said, { user }), "#pass-buttons");
}
