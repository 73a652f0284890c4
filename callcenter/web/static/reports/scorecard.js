// The agent's scorecard: their figures month by month over a year against the targets and
// their team (GET /api/reports/scorecard), a small chart of the satisfaction and service
// figures, and the printable monthly appraisal (考核表) with signature lines; printing shows
// the appraisal only (reports.css, @media print). An agent sees their own; a team leader or
// supervisor may choose an agent of their teams (?agent=ID). Plain JS (an ES module), no
// build step, no inline script or style.
import {
  $, el, api, t, setLang, rememberedLang, applyI18n, onLangChange, bindLangButton,
} from "/static/common/common.js";
import {
  fill, code, label2, headLabel, formatValue, formatPeriod, monthShort, targetText, problemText, isoDay,
  chartDefaults, unitScale, PALETTE, SHAPES, applyLabels,
} from "./i18n.js";

// The figures of the chart (ratios, drawn as %): the agent's, and the team's satisfaction.
const CHARTED = ["satisfaction", "fcr", "wrapup_completion", "occupancy"];
const YEARS_BACK = 5;

const state = {
  user: null,
  catalogue: null,
  card: null, // the last GET /api/reports/scorecard
  chart: null,
  month: null, // the appraisal's month ("2026-03-01")
  seq: 0,
};

const holds = (user, permission) => Boolean(user && (user.permissions || []).includes(permission));
const may = (permission) => holds(state.user, permission);
const mayView = (user) => holds(user, "agent:self") || holds(user, "stats:read");
const figureLabel = (f) => label2(f, f.name);

// --- login ----------------------------------------------------------------------------------

function showLogin(message) {
  state.user = null;
  $("#login-view").hidden = false; $("#card-view").hidden = true; $("#logout").hidden = true;
  for (const id of ["#reports-link", "#wallboard-link", "#agent-link"]) $(id).hidden = true;
  $("#who").textContent = "";
  $("#login-error").textContent = message || "";
}

async function showCard(user) {
  state.user = user;
  if (!rememberedLang() && user.language) setLang(user.language, { remember: false });
  $("#login-view").hidden = true; $("#card-view").hidden = false; $("#logout").hidden = false;
  $("#reports-link").hidden = !may("stats:read");
  $("#wallboard-link").hidden = !may("live:feed");
  $("#agent-link").hidden = !may("agent:self");
  renderWho();
  try {
    state.catalogue = await api("GET", "/api/reports/catalogue");
  } catch (e) {
    if (e.status === 401) { showLogin(""); return; }
    $("#card-error").textContent = problemText(e);
    return;
  }
  const params = new URLSearchParams(location.search);
  renderChoices(params.get("agent"), params.get("year"));
  await load();
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
  if (!mayView(user)) { showLogin(t("not_allowed_card")); return; }
  showCard(user);
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
  if (mayView(data.user)) showCard(data.user);
  else showLogin(t("not_allowed_card"));
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
  renderChoices($("#c-agent").value, $("#c-year").value);
  if (state.card) renderCard();
});

// --- the choices ----------------------------------------------------------------------------

function option(value, text) { return el("option", { value }, text); }

// The agents one may choose (a team leader's or supervisor's), oneself first; the years.
function renderChoices(agent, year) {
  const me = state.user;
  const others = may("stats:read")
    ? state.catalogue.agents.filter((a) => a.id !== me.id).sort((a, b) => a.name.localeCompare(b.name))
    : [];
  const options = [option(String(me.id), `${me.display_name || me.username}（${t("sc_self")}）`),
    ...others.map((a) => option(String(a.id), a.name))];
  // An agent asked for in the address that is not in the list: asked anyway, the server says.
  if (agent && !options.some((o) => o.value === agent)) options.push(option(agent, `#${agent}`));
  $("#c-agent").replaceChildren(...options);
  $("#c-agent").value = agent || String(me.id);
  $("#agent-field").hidden = options.length < 2;
  const now = new Date().getFullYear();
  const years = Array.from({ length: YEARS_BACK + 1 }, (_, i) => now - i);
  const wanted = Number(year) || now;
  if (!years.includes(wanted)) years.push(wanted);
  $("#c-year").replaceChildren(...years.sort((a, b) => b - a).map((y) => option(String(y), String(y))));
  $("#c-year").value = String(wanted);
}

$("#card-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  load();
});

// --- loading --------------------------------------------------------------------------------

async function load() {
  const agent = $("#c-agent").value;
  const year = $("#c-year").value;
  const query = new URLSearchParams({ year });
  if (agent && agent !== String(state.user.id)) query.set("agent", agent);
  history.replaceState(null, "", `?${query}`);
  const seq = ++state.seq;
  $("#card-error").textContent = "";
  $("#card-status").textContent = t("loading");
  let card;
  try {
    card = await api("GET", `/api/reports/scorecard?${query}`);
  } catch (e) {
    if (seq !== state.seq) return;
    $("#card-status").textContent = "";
    if (e.status === 401) { showLogin(""); return; }
    state.card = null;
    for (const id of ["#card-result", "#appraisal-controls", "#appraisal"]) $(id).hidden = true;
    $("#card-error").textContent = problemText(e);
    return;
  }
  if (seq !== state.seq) return;
  state.card = card;
  state.month = null;
  renderCard();
}

// --- the year's table -----------------------------------------------------------------------

const teamValues = (month) => {
  const row = state.card.team_months.find((m) => m.month === month);
  return row ? row.values : null;
};
const mine = (month) => state.card.months.find((m) => m.month === month) || null;

// A value, marked when off target (a mark and words, not colour alone).
function valueNode(f, value, off) {
  const node = el("span", { class: "mine" }, formatValue(f.unit, value));
  if (!off) return [node];
  const below = f.target_side !== "max";
  node.append(" ", el("span", { class: "mark", "aria-hidden": "true" }, below ? "▼" : "▲"),
    el("span", { class: "sr-only" }, `${t(below ? "below" : "above")} (${targetText(f)})`));
  return [node];
}

function renderCard() {
  const card = state.card;
  const months = [...new Set([...card.months.map((m) => m.month), ...card.team_months.map((m) => m.month)])].sort();
  $("#card-status").textContent = "";
  $("#card-result").hidden = false;
  $("#card-title").textContent = fill("sc_heading", { n: card.name, y: card.year });
  $("#card-caption").textContent = fill("sc_caption", { n: card.name });
  const table = $("#card-table");
  table.tHead.replaceChildren(el("tr", {}, el("th", { scope: "col" }, t("sc_month")),
    ...card.figures.map((f) => {
      const target = targetText(f);
      return el("th", { scope: "col", class: "num", "data-figure": f.name }, ...headLabel(figureLabel(f)),
        target ? el("span", { class: "target" }, target) : null);
    })));
  table.tBodies[0].replaceChildren(...months.map((month) => {
    const row = mine(month);
    const team = teamValues(month);
    return el("tr", { "data-month": month }, el("th", { scope: "row" }, formatPeriod("month", month)),
      ...card.figures.map((f) => {
        const off = Boolean(row && row.off_target.includes(f.name));
        const cell = el("td", { class: off ? "num off" : "num", "data-figure": f.name },
          ...valueNode(f, row ? row.values[f.name] : null, off));
        if (team) {
          cell.append(el("span", { class: "team" }, el("span", { class: "team-label" }, t("sc_team")), " ",
            formatValue(f.unit, team[f.name])));
        }
        return cell;
      }));
  }));
  table.hidden = months.length === 0;
  $("#card-empty").hidden = months.length > 0;
  $("#team-note").textContent = card.team_months.length ? t("sc_team_note") : t("sc_no_team");
  renderChart(months.length ? yearMonths(card.year) : []);
  renderAppraisalChoices();
}

// The twelve months of a year, as the API names them ("2026-03-01").
const yearMonths = (year) => Array.from({ length: 12 }, (_, i) => `${year}-${String(i + 1).padStart(2, "0")}-01`);

function renderChart(months) {
  const Chart = chartDefaults();
  if (state.chart) { state.chart.destroy(); state.chart = null; }
  const card = state.card;
  const { scale, y, tooltip } = unitScale("ratio");
  const series = (values) => months.map((m) => {
    const v = values(m);
    return v === null || v === undefined ? null : v * scale;
  });
  const datasets = [];
  for (const name of CHARTED) {
    const f = card.figures.find((x) => x.name === name);
    if (!f) continue;
    datasets.push({ label: figureLabel(f), data: series((m) => mine(m)?.values[name]) });
    if (name === "satisfaction" && card.team_months.length) {
      datasets.push({ label: fill("sc_team_of", { f: figureLabel(f) }), data: series((m) => teamValues(m)?.[name]),
        borderDash: [6, 4] });
    }
  }
  const shown = datasets.filter((d) => d.data.some((v) => v !== null));
  $("#card-chart-block").hidden = !Chart || !months.length || !shown.length;
  if ($("#card-chart-block").hidden) return;
  shown.forEach((d, i) => Object.assign(d, {
    borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length],
    pointStyle: SHAPES[i % SHAPES.length], pointRadius: 4, borderWidth: 2, tension: 0,
  }));
  $("#card-chart").setAttribute("aria-label", fill("sc_chart_alt", { n: card.name }));
  state.chart = new Chart($("#card-chart"), {
    type: "line",
    data: { labels: months.map(monthShort), datasets: shown },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      scales: { y },
      plugins: {
        legend: { position: "bottom", labels: { usePointStyle: true } },
        tooltip: { callbacks: { label: tooltip } },
      },
    },
  });
}

// --- the monthly appraisal (printable) --------------------------------------------------------

function renderAppraisalChoices() {
  const months = state.card.months.map((m) => m.month).sort();
  $("#appraisal-controls").hidden = months.length === 0;
  $("#appraisal").hidden = months.length === 0;
  if (!months.length) return;
  if (!months.includes(state.month)) {
    // The month just ended when there is one, else the latest there is.
    const now = new Date();
    const last = isoDay(new Date(now.getFullYear(), now.getMonth() - 1, 1));
    state.month = months.includes(last) ? last : months[months.length - 1];
  }
  $("#a-month").replaceChildren(...months.map((m) => option(m, formatPeriod("month", m))));
  $("#a-month").value = state.month;
  renderAppraisal();
}

$("#a-month").addEventListener("change", () => {
  state.month = $("#a-month").value;
  renderAppraisal();
});
$("#print").addEventListener("click", () => window.print());

function renderAppraisal() {
  const card = state.card;
  const row = mine(state.month);
  const team = teamValues(state.month);
  $("#ap-agent").textContent = card.name;
  $("#ap-month").textContent = formatPeriod("month", state.month);
  $("#ap-printed").textContent = isoDay(new Date());
  $("#ap-table").tBodies[0].replaceChildren(...card.figures.map((f) => {
    const value = row ? row.values[f.name] : null;
    const hasTarget = f.target !== null && f.target !== undefined;
    const off = Boolean(row && row.off_target.includes(f.name));
    let result;
    if (!hasTarget) result = el("td", { class: "muted" }, t("ap_no_target"));
    else if (value === null || value === undefined) result = el("td", { class: "muted" }, t("ap_no_value"));
    else result = el("td", { class: off ? "not-met" : "met" }, t(off ? "ap_not_met" : "ap_met"));
    return el("tr", { "data-figure": f.name },
      el("th", { scope: "row" }, figureLabel(f)),
      el("td", { class: off ? "num off" : "num" }, formatValue(f.unit, value)),
      el("td", { class: "num" }, hasTarget ? targetText(f).replace(/^[^≥≤]*/, "") : t("none")),
      el("td", { class: "num" }, team ? formatValue(f.unit, team[f.name]) : t("none")),
      result);
  }));
}

start();
