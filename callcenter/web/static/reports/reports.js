// The reports page of team leaders, supervisors and admins: a standard report (or a custom set
// of figures) by a dimension and an interval over a period, optionally filtered by queue, team
// or agent and compared with the previous period (GET /api/reports/run), drawn as a chart
// (Chart.js, vendored: window.Chart) and a table, exported as CSV or XLSX
// (GET /api/reports/export), and the routing episodes (GET /api/reports/episodes). The
// choices live in the address: a reload or a link shows the same report. Plain JS (an ES
// module), no build step, no inline script or style.
import {
  $, $$, el, api, t, getLang, setLang, rememberedLang, applyI18n, onLangChange, bindLangButton,
} from "/static/common/common.js";
import {
  fill, code, label2, headLabel, formatValue, formatChange, formatPeriod, targetText, problemText, when,
  duration, clock, isoDay, addDays, chartDefaults, unitScale, PALETTE, SHAPES, applyLabels,
} from "./i18n.js";

const MAX_LINES = 8;
const PARAMS = ["report", "figures", "dimension", "interval", "start", "end", "queue", "team", "agent", "compare"];

const state = {
  user: null,
  catalogue: null, // GET /api/reports/catalogue
  answer: null, // the last GET /api/reports/run
  params: null, // the query it was run with (URLSearchParams, without lang)
  chart: null,
  chartFigure: null, // the figure charted (a name), kept across runs when there
  episodes: null, // the last GET /api/reports/episodes
  panel: "report",
  seq: 0,
};

const holds = (user, permission) => Boolean(user && (user.permissions || []).includes(permission));
const may = (permission) => holds(state.user, permission);
const figureInfo = (name) =>
  (state.answer && state.answer.figures.find((f) => f.name === name))
  || (state.catalogue && state.catalogue.figures.find((f) => f.name === name))
  || { name, label_zh: name, label_en: name, unit: "count" };
const figureLabel = (f) => label2(f, f.name);
const reportOf = (name) => state.catalogue && state.catalogue.reports.find((r) => r.name === name);

// --- login ----------------------------------------------------------------------------------

function showLogin(message) {
  state.user = null;
  $("#login-view").hidden = false; $("#reports-view").hidden = true; $("#logout").hidden = true;
  $("#wallboard-link").hidden = true; $("#work-link").hidden = true;
  $("#who").textContent = "";
  $("#login-error").textContent = message || "";
}

async function showReports(user) {
  state.user = user;
  if (!rememberedLang() && user.language) setLang(user.language, { remember: false });
  $("#login-view").hidden = true; $("#reports-view").hidden = false; $("#logout").hidden = false;
  $("#wallboard-link").hidden = !may("live:feed");
  $("#work-link").hidden = !may("work:supervise");
  renderWho();
  try {
    state.catalogue = await api("GET", "/api/reports/catalogue");
  } catch (e) {
    if (e.status === 401) { showLogin(""); return; }
    showError("#report-error", e);
    return;
  }
  renderChoices();
  const params = new URLSearchParams(location.search);
  writeForm(params);
  if (params.get("tab") === "episodes") select("episodes", false);
  if (params.get("start") && params.get("end")) await run();
}

function renderWho() {
  const u = state.user;
  $("#who").textContent = u ? `${u.display_name || u.username} (${code("role_", u.role)})` : "";
}

async function start() {
  applyI18n();
  applyLabels();
  let user;
  try {
    user = (await api("GET", "/api/me")).user;
  } catch (_) {
    showLogin("");
    return;
  }
  if (!holds(user, "stats:read")) { showLogin(t("not_staff")); return; }
  showReports(user);
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  let data;
  try {
    data = await api("POST", "/api/login", { username: $("#username").value, password: $("#password").value });
  } catch (e) {
    $("#login-error").textContent = e.status === 429 ? t("too_many")
      : e.status === 0 || e.status >= 500 ? e.message : t("bad_login");
    return;
  }
  $("#password").value = "";
  if (holds(data.user, "stats:read")) showReports(data.user);
  else showLogin(t("not_staff"));
});

$("#logout").addEventListener("click", async () => {
  await api("POST", "/api/logout").catch(() => null);
  showLogin("");
});

bindLangButton($("#lang"));
onLangChange(() => {
  applyLabels();
  renderWho();
  if (!state.user || !state.catalogue) return;
  renderChoices();
  renderEpisodes();
  if (!state.answer) return;
  // The keys' names (teams, dispositions, weekdays) come from the server in a language.
  if (["team", "disposition", "weekday"].includes(state.answer.dimension)) run({ quiet: true });
  else renderAnswer();
});

// --- tabs (arrow keys move between them, as a tab list does) ---------------------------------

function select(name, focus) {
  state.panel = name;
  for (const tab of $$("#tabs [role=tab]")) {
    const on = tab.dataset.panel === name;
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;
    $(`#panel-${tab.dataset.panel}`).hidden = !on;
    if (on && focus) tab.focus();
  }
  const params = new URLSearchParams(location.search);
  if (name === "episodes") params.set("tab", "episodes"); else params.delete("tab");
  const text = params.toString();
  history.replaceState(null, "", text ? `?${text}` : location.pathname);
  if (name === "episodes" && !state.episodes) loadEpisodes();
}
for (const tab of $$("#tabs [role=tab]")) tab.addEventListener("click", () => select(tab.dataset.panel, false));
$("#tabs").addEventListener("keydown", (ev) => {
  const tabs = $$("#tabs [role=tab]");
  const at = tabs.indexOf(document.activeElement);
  if (at < 0) return;
  const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 };
  if (!(ev.key in moves)) return;
  ev.preventDefault();
  select(tabs[(moves[ev.key] + tabs.length) % tabs.length].dataset.panel, true);
});

// --- the controls ---------------------------------------------------------------------------

function option(value, text) { return el("option", { value }, text); }

// Fills a select, keeping what was chosen.
function fillSelect(select, entries) {
  const keep = select.value;
  select.replaceChildren(...entries);
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

function renderChoices() {
  const c = state.catalogue;
  fillSelect($("#f-report"), [
    ...c.reports.map((r) => option(r.name, label2(r, r.name))),
    option("custom", t("custom")),
  ]);
  fillSelect($("#f-dimension"), c.dimensions.map((d) => option(d, code("dim_", d))));
  fillSelect($("#f-interval"), c.intervals.map((i) => option(i, code("int_", i))));
  const queues = [option("", t("all_queues")), ...c.queues.map((q) => option(q, q))];
  fillSelect($("#f-queue"), queues);
  fillSelect($("#e-queue"), queues.map((o) => o.cloneNode(true)));
  fillSelect($("#f-team"), [option("", t("all_teams")), ...c.teams.map((x) => option(String(x.id), label2(x, x.name)))]);
  fillSelect($("#f-agent"), [option("", t("all_agents")), ...c.agents.map((a) => option(String(a.id), a.name))]);
  const chosen = new Set($$("#figure-boxes input:checked").map((x) => x.value));
  $("#figure-boxes").replaceChildren(...c.figures.map((f) => el("label", { class: "check", for: `fig-${f.name}` },
    el("input", { type: "checkbox", id: `fig-${f.name}`, value: f.name, name: "figure" }), " ", figureLabel(f))));
  for (const box of $$("#figure-boxes input")) box.checked = chosen.has(box.value);
}

// The form from the address (or the defaults: queue summary, this month so far).
function writeForm(params) {
  const report = params.get("report") || (state.catalogue.reports[0] ? state.catalogue.reports[0].name : "custom");
  $("#f-report").value = [...$("#f-report").options].some((o) => o.value === report) ? report : "custom";
  presetChoices();
  const figures = (params.get("figures") || "").split(",").filter(Boolean);
  if (figures.length) {
    for (const box of $$("#figure-boxes input")) box.checked = figures.includes(box.value);
  }
  for (const [name, id] of [["dimension", "#f-dimension"], ["interval", "#f-interval"], ["queue", "#f-queue"],
    ["team", "#f-team"], ["agent", "#f-agent"]]) {
    const value = params.get(name);
    if (value !== null && [...$(id).options].some((o) => o.value === value)) $(id).value = value;
  }
  const today = new Date();
  $("#f-start").value = params.get("start") || isoDay(new Date(today.getFullYear(), today.getMonth(), 1));
  $("#f-end").value = params.get("end") || isoDay(today);
  $("#f-compare").checked = ["1", "true"].includes(params.get("compare"));
  $("#e-start").value = $("#f-start").value;
  $("#e-end").value = $("#f-end").value;
}

// A standard report sets its dimension and interval (they can be changed after) and its
// figures are the custom ones' starting point.
function presetChoices() {
  const preset = reportOf($("#f-report").value);
  const custom = $("#f-report").value === "custom";
  $("#f-figures").hidden = !custom;
  if (preset) {
    $("#f-dimension").value = preset.dimension;
    $("#f-interval").value = preset.interval;
    for (const box of $$("#figure-boxes input")) box.checked = preset.figures.includes(box.value);
  }
}
$("#f-report").addEventListener("change", presetChoices);

function quickRange(which) {
  const today = new Date();
  const y = today.getFullYear(), m = today.getMonth();
  switch (which) {
    case "yesterday": return [addDays(today, -1), addDays(today, -1)];
    case "7d": return [addDays(today, -6), today];
    case "last_month": return [new Date(y, m - 1, 1), new Date(y, m, 0)];
    case "this_year": return [new Date(y, 0, 1), today];
    default: return [new Date(y, m, 1), today];
  }
}
for (const button of $$("#quick button")) {
  button.addEventListener("click", () => {
    const [from, to] = quickRange(button.dataset.quick);
    $("#f-start").value = isoDay(from);
    $("#f-end").value = isoDay(to);
    run();
  });
}

// The report's query from the form; null (and the reason shown) when it cannot be run.
function readForm() {
  const params = new URLSearchParams();
  const report = $("#f-report").value;
  params.set("report", report);
  if (report === "custom") {
    const figures = $$("#figure-boxes input:checked").map((x) => x.value);
    if (!figures.length) { showProblem("#report-error", t("pick_figure"), $("#figure-boxes input")); return null; }
    params.set("figures", figures.join(","));
  }
  params.set("dimension", $("#f-dimension").value);
  params.set("interval", $("#f-interval").value);
  const start = $("#f-start").value, end = $("#f-end").value;
  if (!start) { showProblem("#report-error", `${t("start")}?`, $("#f-start")); return null; }
  if (!end) { showProblem("#report-error", `${t("end")}?`, $("#f-end")); return null; }
  if (end < start) { showProblem("#report-error", t("bad_range"), $("#f-end")); return null; }
  params.set("start", start);
  params.set("end", end);
  for (const [name, id] of [["queue", "#f-queue"], ["team", "#f-team"], ["agent", "#f-agent"]]) {
    if ($(id).value) params.set(name, $(id).value);
  }
  if ($("#f-compare").checked) params.set("compare", "true");
  return params;
}

function showProblem(selector, text, focus) {
  $(selector).textContent = text;
  if (focus) focus.focus();
}
function showError(selector, e) { $(selector).textContent = problemText(e); }

$("#report-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  run();
});

// --- running a report -----------------------------------------------------------------------

async function run({ quiet = false } = {}) {
  const params = quiet && state.params ? new URLSearchParams(state.params) : readForm();
  if (!params) return;
  const seq = ++state.seq;
  $("#report-error").textContent = "";
  if (!quiet) $("#report-status").textContent = t("running");
  $("#report-result").setAttribute("aria-busy", "true");
  $("#run").disabled = true;
  const query = new URLSearchParams(params);
  query.set("lang", getLang());
  let answer;
  try {
    answer = await api("GET", `/api/reports/run?${query}`);
  } catch (e) {
    if (seq !== state.seq) return;
    $("#report-result").removeAttribute("aria-busy");
    $("#report-status").textContent = "";
    if (e.status === 401) { showLogin(""); return; }
    showError("#report-error", e);
    return;
  } finally {
    if (seq === state.seq) $("#run").disabled = false;
  }
  if (seq !== state.seq) return;
  state.answer = answer;
  state.params = params;
  if (!answer.figures.some((f) => f.name === state.chartFigure)) state.chartFigure = answer.figures[0]?.name || null;
  writeUrl(params);
  renderAnswer();
  $("#report-result").removeAttribute("aria-busy");
}

function writeUrl(params) {
  const keep = new URLSearchParams();
  for (const name of PARAMS) if (params.get(name)) keep.set(name, params.get(name));
  if (state.panel === "episodes") keep.set("tab", "episodes");
  history.replaceState(null, "", `?${keep}`);
}

function reportName(answer) {
  if (answer.report === "custom") return t("custom_report");
  const preset = reportOf(answer.report);
  return preset ? label2(preset, preset.name) : answer.report;
}
const rangeText = (s, e) => (s === e ? s : fill("range", { s, e }));

function renderAnswer() {
  const a = state.answer;
  if (!a) return;
  $("#report-result").hidden = false;
  const title = `${reportName(a)} · ${rangeText(a.start, a.end)}`;
  $("#result-title").textContent = title;
  $("#report-status").textContent = fill("shown", { r: reportName(a), p: rangeText(a.start, a.end) });
  const exportQuery = new URLSearchParams(state.params);
  exportQuery.set("lang", getLang());
  for (const format of ["csv", "xlsx"]) {
    exportQuery.set("format", format);
    $(`#export-${format}`).href = `/api/reports/export?${exportQuery}`;
  }
  fillSelect($("#chart-figure"), a.figures.map((f) => option(f.name, figureLabel(f))));
  if (state.chartFigure) $("#chart-figure").value = state.chartFigure;
  renderTable();
  renderChart();
}

// --- the table ------------------------------------------------------------------------------

function keyText(a, key) {
  if (a.dimension === "none" || key === "") return t("all");
  return (a.key_labels && a.key_labels[key]) || key;
}

function labelColumns(a) {
  const columns = [];
  if (a.interval !== "total") columns.push({ head: t("col_period"), cell: (r) => formatPeriod(a.interval, r.period) });
  if (a.dimension !== "none") columns.push({ head: code("dim_", a.dimension), cell: (r) => keyText(a, r.key) });
  if (!columns.length) columns.push({ head: t("col_scope"), cell: () => t("all") });
  return columns;
}

// A figure's cell: the value, and when off target a mark and its words (not colour alone).
function valueCell(f, value, off) {
  const cell = el("td", { class: "num", "data-figure": f.name }, formatValue(f.unit, value));
  if (off) {
    const below = f.target_side !== "max";
    cell.classList.add("off");
    cell.title = targetText(f);
    cell.append(" ", el("span", { class: "mark", "aria-hidden": "true" }, below ? "▼" : "▲"),
      el("span", { class: "sr-only" }, `${t(below ? "below" : "above")} (${targetText(f)})`));
  }
  return cell;
}

function renderTable() {
  const a = state.answer;
  const columns = labelColumns(a);
  const table = $("#report-table");
  $("#report-caption").textContent = `${reportName(a)} · ${rangeText(a.start, a.end)} · ${code("dim_", a.dimension)} · ${code("int_", a.interval)}`;
  table.tHead.replaceChildren(el("tr", {},
    ...columns.map((c) => el("th", { scope: "col" }, c.head)),
    ...a.figures.map((f) => {
      const target = targetText(f);
      return el("th", { scope: "col", class: "num", "data-figure": f.name },
        ...headLabel(figureLabel(f)), target ? el("span", { class: "target" }, target) : null);
    })));
  table.tBodies[0].replaceChildren(...a.rows.map((r) => el("tr", { "data-key": r.key, "data-period": r.period },
    ...columns.map((c) => el("th", { scope: "row" }, c.cell(r))),
    ...a.figures.map((f) => valueCell(f, r.values[f.name], r.off_target.includes(f.name))))));
  const foot = [];
  const span = String(columns.length);
  // Without a breakdown over the whole period, the one row is the total already.
  if (a.dimension !== "none" || a.interval !== "total") {
    foot.push(el("tr", { class: "totals" }, el("th", { scope: "row", colspan: span }, t("totals")),
      ...a.figures.map((f) => valueCell(f, a.totals[f.name], a.totals_off_target.includes(f.name)))));
  }
  if (a.previous) {
    foot.push(el("tr", { class: "previous" },
      el("th", { scope: "row", colspan: span }, t("previous"),
        el("span", { class: "range" }, rangeText(a.previous_start, a.previous_end))),
      ...a.figures.map((f) => el("td", { class: "num", "data-figure": f.name }, formatValue(f.unit, a.previous[f.name])))));
    foot.push(el("tr", { class: "change" }, el("th", { scope: "row", colspan: span }, t("change")),
      ...a.figures.map((f) => el("td", { class: "num", "data-figure": f.name },
        ...changeParts(formatChange(f.unit, a.totals[f.name], a.previous[f.name]))))));
  }
  table.tFoot.replaceChildren(...foot);
  $("#no-rows").hidden = a.rows.length > 0;
}

// "+4 (+400.0 %)": a line may break before the bracket only.
function changeParts(text) {
  const parts = text.split(/ (?=\()/);
  return parts.flatMap((part, i) => [i ? " " : null, el("span", { class: "nw" }, part)]).filter(Boolean);
}

// --- the chart ------------------------------------------------------------------------------

$("#chart-figure").addEventListener("change", () => {
  state.chartFigure = $("#chart-figure").value;
  renderChart();
});

function renderChart() {
  const a = state.answer;
  const Chart = chartDefaults();
  if (state.chart) { state.chart.destroy(); state.chart = null; }
  const f = figureInfo(state.chartFigure);
  const block = $("#chart-block");
  block.hidden = !Chart || !a.rows.length || !f;
  if (block.hidden) return;
  const { scale, y, tooltip } = unitScale(f.unit);
  const value = (v) => (v === null || v === undefined ? null : v * scale);
  const label = figureLabel(f);
  let config;
  let note = "";
  let title;
  if (a.interval === "total") {
    title = fill("chart_by", { f: label, d: code("dim_", a.dimension).toLowerCase() });
    config = {
      type: "bar",
      data: {
        labels: a.rows.map((r) => keyText(a, r.key)),
        datasets: [{ label, data: a.rows.map((r) => value(r.values[f.name])), backgroundColor: PALETTE[0],
          borderColor: PALETTE[0], maxBarThickness: 56 }],
      },
      options: { plugins: { legend: { display: false } } },
    };
  } else {
    title = fill("chart_over", { f: label, i: code("int_", a.interval).toLowerCase() });
    const periods = [...new Set(a.rows.map((r) => r.period))].sort();
    let keys = [...new Set(a.rows.map((r) => r.key))];
    if (keys.length > MAX_LINES) {
      const size = (key) => a.rows.filter((r) => r.key === key).reduce((s, r) => s + Math.abs(r.values[f.name] || 0), 0);
      note = fill("chart_cap", { n: MAX_LINES, m: keys.length });
      keys = keys.map((k) => [k, size(k)]).sort((p, q) => q[1] - p[1]).slice(0, MAX_LINES).map((p) => p[0]);
    }
    const cell = new Map(a.rows.map((r) => [`${r.period}\u0000${r.key}`, r.values[f.name]]));
    config = {
      type: "line",
      data: {
        labels: periods.map((p) => formatPeriod(a.interval, p)),
        datasets: keys.map((key, i) => ({
          label: keyText(a, key),
          data: periods.map((p) => value(cell.get(`${p}\u0000${key}`))),
          borderColor: PALETTE[i % PALETTE.length],
          backgroundColor: PALETTE[i % PALETTE.length],
          pointStyle: SHAPES[i % SHAPES.length],
          pointRadius: 4,
          borderWidth: 2,
          tension: 0,
        })),
      },
      options: { plugins: { legend: { display: true, position: "bottom", labels: { usePointStyle: true } } } },
    };
  }
  $("#chart-title").textContent = title;
  $("#chart-note").textContent = note;
  $("#chart").setAttribute("aria-label", fill("chart_alt", { t: title }));
  config.options = {
    ...config.options,
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    scales: { y, x: { ticks: { autoSkip: true, maxRotation: 45 } } },
  };
  config.options.plugins.tooltip = { callbacks: { label: tooltip } };
  state.chart = new Chart($("#chart"), config);
}

// --- routing episodes -----------------------------------------------------------------------

$("#episodes-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  loadEpisodes();
});

async function loadEpisodes() {
  const start = $("#e-start").value, end = $("#e-end").value;
  $("#episodes-error").textContent = "";
  if (!start || !end || end < start) { showProblem("#episodes-error", t("bad_range"), $("#e-end")); return; }
  const query = new URLSearchParams({ start, end });
  if ($("#e-queue").value) query.set("queue", $("#e-queue").value);
  $("#episodes-status").textContent = t("loading");
  try {
    state.episodes = (await api("GET", `/api/reports/episodes?${query}`)).episodes;
  } catch (e) {
    state.episodes = null;
    $("#episodes-status").textContent = "";
    $("#episodes-table").hidden = true;
    $("#episodes-empty").hidden = true;
    if (e.status === 401) { showLogin(""); return; }
    showError("#episodes-error", e);
    return;
  }
  renderEpisodes();
}

const levelText = (level) => code("level_", level);

function levelsNode(levels) {
  if (!Array.isArray(levels) || !levels.length) return t("none");
  return el("ol", { class: "levels" }, ...levels.map((x) =>
    el("li", {}, el("time", { datetime: x.at }, clock(x.at)), " ",
      el("span", { class: `level level-${x.level}` }, levelText(x.level)))));
}

// The summary as a list of its facts in words (unknown ones as they are).
function summaryNode(summary) {
  if (!summary) return el("span", { class: "muted" }, t("ep_open"));
  const facts = Object.entries(summary).map(([name, value]) => {
    let shown;
    if (name === "levels") shown = levelsNode(value);
    else if (name.endsWith("_at")) shown = when(value);
    else if (name === "duration_seconds" || name === "peak_longest_wait") shown = duration(Number(value));
    else shown = typeof value === "object" ? JSON.stringify(value) : String(value);
    return [el("dt", {}, code("sum_", name)), el("dd", {}, shown)];
  });
  return el("details", {}, el("summary", {}, t("ep_show")), el("dl", { class: "facts" }, ...facts.flat()));
}

function renderEpisodes() {
  const list = state.episodes;
  if (!list) return;
  const table = $("#episodes-table");
  table.tBodies[0].replaceChildren(...list.map((x) => {
    const seconds = x.ended_at ? (Date.parse(x.ended_at) - Date.parse(x.started_at)) / 1000 : null;
    return el("tr", { "data-episode": String(x.id) },
      el("th", { scope: "row" }, x.queue),
      el("td", { class: "when" }, el("time", { datetime: x.started_at }, when(x.started_at))),
      el("td", { class: "when" }, x.ended_at ? el("time", { datetime: x.ended_at }, when(x.ended_at))
        : el("span", { class: "open" }, t("ep_open"))),
      el("td", { class: "num" }, seconds === null ? t("none") : duration(seconds)),
      el("td", { class: "num" }, formatValue("count", x.peak_callers_waiting)),
      el("td", { class: "num" }, formatValue("seconds", x.peak_longest_wait)),
      el("td", { class: "num" }, formatValue("count", x.calls_affected)),
      el("td", {}, levelsNode(x.levels)),
      el("td", {}, summaryNode(x.summary)));
  }));
  table.hidden = list.length === 0;
  $("#episodes-empty").hidden = list.length > 0;
  $("#episodes-status").textContent = fill("ep_count", { n: list.length });
}

start();
