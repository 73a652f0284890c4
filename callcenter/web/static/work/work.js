// The supervisor's work-items page (docs/work-items.md): every item in the user's scope with
// filters and paging (GET /api/work/items), the counts the reports use (GET /api/work/counts),
// bulk reassign (POST /api/work/bulk-assign), and an item's detail with its timeline, calls,
// links and callback attempts, where it can be reassigned, moved or noted (each change sends
// the version it saw; a stale one reloads the item and says so). Escalations on the live feed
// refresh the list. Plain JS (an ES module), no build step, no inline script or style.
import {
  $, $$, el, api, ApiError, liveSocket, t, getLang, setLang, rememberedLang, applyI18n,
  onLangChange, bindLangButton, showLinkState,
} from "/static/common/common.js";
import "./i18n.js";

const enc = encodeURIComponent;
const PAGE = 50;
const MAX_PAGE = 200;
const PERIOD_KEY = "cc.work.period";
const FILTERS = ["q", "kind", "status", "priority", "owner", "team", "overdue"];
const OPEN_STATUSES = new Set(["open", "in-progress", "waiting-customer", "waiting-department"]);

const state = {
  user: null,
  options: null, // GET /api/work/options
  items: [], // the rows shown, in the server's order
  byId: new Map(), // every item seen on this page (tickets for the bulk refusals)
  nextCursor: null,
  selected: new Set(),
  filters: {},
  listSeq: 0,
  counts: null,
  detail: null, // the item open in the dialog (GET /api/work/items/{id})
  opener: null, // what had the focus when the dialog opened
  result: null, // the page's last message: { ok, words }, words() re-run on a language switch
  detailResult: null,
  bulkResult: null, // the last bulk answer, with the tickets it named
  clockOffset: 0, // the server's clock minus the browser's (ms), from the Date header
  refreshTimer: null,
  searchTimer: null,
};

// --- helpers --------------------------------------------------------------------------------

const holds = (user, permission) => Boolean(user && (user.permissions || []).includes(permission));
const may = (permission) => holds(state.user, permission);
const fill = (key, values) => Object.entries(values).reduce((s, [k, v]) => s.replaceAll(`{${k}}`, v), t(key));
const code = (prefix, value) => {
  const key = `${prefix}${value}`;
  const text = t(key);
  return text === key ? value : text;
};
function label2(item, fallback) {
  return (getLang() === "en" ? item.label_en || item.label_zh : item.label_zh || item.label_en) || fallback;
}
const serverNow = () => Date.now() + state.clockOffset;
const isOpen = (item) => OPEN_STATUSES.has(item.status);
const isOverdue = (item) =>
  Boolean(item.overdue || (isOpen(item) && item.due_at && Date.parse(item.due_at) < serverNow()));

function userName(id, fallback) {
  const u = state.options && state.options.users.find((x) => x.id === id);
  return u ? u.name : fallback || `#${id}`;
}
function teamOf(id) { return state.options && state.options.teams.find((x) => x.id === id); }
function teamName(id, fallback) {
  const team = teamOf(id);
  return team ? label2(team, team.name) : fallback || `#${id}`;
}
function categoryName(value) {
  const c = state.options && state.options.categories.find((x) => x.code === value);
  return c ? label2(c, c.code) : value;
}
function ownerText(item) {
  if (item.owner_id != null) return userName(item.owner_id, item.owner_name);
  return item.team_id != null ? fill("to_pool", { t: teamName(item.team_id, item.team_name) }) : t("pool");
}

function when(iso, withYear = false) {
  if (!iso) return t("none");
  const locale = getLang() === "zh" ? "zh-CN" : "en-GB";
  const options = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
  if (withYear) options.year = "numeric";
  return new Date(iso).toLocaleString(locale, options);
}
function duration(seconds) {
  const s = Math.abs(Math.round(seconds));
  if (s < 60) return t("d_now");
  const days = Math.floor(s / 86400), hours = Math.floor((s % 86400) / 3600), minutes = Math.floor((s % 3600) / 60);
  const n = (key, value) => fill(key, { n: value });
  if (days) return hours ? `${n("d_days", days)} ${n("d_hours", hours)}` : n("d_days", days);
  if (hours) return minutes ? `${n("d_hours", hours)} ${n("d_min", minutes)}` : n("d_hours", hours);
  return n("d_min", minutes);
}
// The deadline of an item in words: { text, overdue, kind } (the absolute time is apart).
function deadline(item) {
  if (item.status === "resolved" || item.status === "closed") {
    if (item.resolved_on_time === true) return { text: `✓ ${t("on_time")}`, kind: "done" };
    if (item.resolved_on_time === false) return { text: `✗ ${t("late")}`, kind: "late" };
    return { text: t("closed_item"), kind: "done" };
  }
  if (!item.due_at) {
    return { text: fill("waiting_left", { d: item.remaining_seconds != null ? duration(item.remaining_seconds) : t("none") }),
             kind: "waiting" };
  }
  const left = (Date.parse(item.due_at) - serverNow()) / 1000;
  // Overdue: the flag says so, the words say by how much.
  if (isOverdue(item)) return { text: duration(Math.max(0, -left)), overdue: true, kind: "overdue" };
  return { text: fill("due_in", { d: duration(left) }), kind: "due" };
}
function dueNode(item) {
  const d = deadline(item);
  const parts = [];
  if (d.overdue) parts.push(el("span", { class: "flag" }, el("span", { "aria-hidden": "true" }, "⚠ "), t("overdue_flag")), " ");
  parts.push(el("span", { class: `due-words due-${d.kind}` }, d.text));
  // The promise while open; when it was kept (or not) once resolved.
  const done = d.kind === "done" || d.kind === "late";
  const at = done ? item.resolved_at || item.closed_at : item.due_at;
  if (at) parts.push(el("span", { class: "due-at muted" }, done ? fill("resolved_at", { t: when(at) }) : when(at)));
  return parts;
}
function problemText(e) {
  if (!(e instanceof ApiError)) return String(e);
  const key = `err_${e.error}`;
  const text = t(key);
  return `${text === key ? t("failed") : text} (${e.status}) ${t("server_says")}${e.message}`;
}

// The API, reading the server's clock from each answer's Date header: deadlines count down on
// the server's time, whatever the browser's clock says.
async function call(method, path, body) {
  const sentAt = Date.now();
  const headers = { Accept: "application/json" };
  const options = { method, credentials: "same-origin", headers };
  if (method !== "GET") headers["Content-Type"] = "application/json";
  if (body !== undefined) options.body = JSON.stringify(body);
  let response;
  try {
    response = await fetch(path, options);
  } catch (exc) {
    throw new ApiError(0, "network", (exc && exc.message) || "network error");
  }
  const date = Date.parse(response.headers.get("Date") || "");
  // The Date header is whole seconds: its middle is the best guess.
  if (!Number.isNaN(date)) state.clockOffset = date + 500 - (sentAt + Date.now()) / 2;
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (response.ok) return data;
  const shaped = data && typeof data === "object" ? data : null;
  const error = new ApiError(response.status, (shaped && shaped.error) || `http-${response.status}`,
    (shaped && shaped.message) || `HTTP ${response.status}`, shaped);
  if (response.status === 401) showLogin("");
  throw error;
}

function showResult(ok, words) {
  state.result = words ? { ok, words } : null;
  renderResult();
}
function renderResult() {
  const node = $("#result");
  node.className = "result " + (state.result && state.result.ok ? "ok" : "error");
  node.textContent = state.result ? state.result.words() : "";
}
function showDetailResult(ok, words) {
  state.detailResult = words ? { ok, words } : null;
  renderDetailResult();
}
function renderDetailResult() {
  const node = $("#detail-result");
  const r = state.detailResult;
  node.className = "result " + (r && r.ok ? "ok" : "error");
  node.textContent = r ? r.words() : "";
}

// --- live feed (escalations refresh the list) ------------------------------------------------

const socket = liveSocket("/ws/live", {
  onMessage: (msg) => {
    if (msg.type !== "work_escalated") return;
    scheduleRefresh();
    if (state.detail && msg.item && msg.item.id === state.detail.id) reloadDetail();
  },
  onState: (s) => showLinkState($("#link-state"), s),
  beforeRetry: async () => {
    try { await api("GET", "/api/me"); } catch (e) {
      if (e.status === 401) { showLogin(""); return false; }
    }
    return true;
  },
});

// --- login ----------------------------------------------------------------------------------

function showLogin(message) {
  state.user = null;
  state.selected.clear();
  state.bulkResult = null;
  renderBulkResult();
  socket.stop();
  if ($("#detail").open) $("#detail").close();
  $("#login-view").hidden = false; $("#work-view").hidden = true; $("#logout").hidden = true;
  $("#link-state").hidden = true;
  $("#who").textContent = "";
  $("#login-error").textContent = message || "";
}

async function showWork(user) {
  state.user = user;
  if (!rememberedLang() && user.language) setLang(user.language, { remember: false });
  $("#login-view").hidden = true; $("#work-view").hidden = false; $("#logout").hidden = false;
  renderWho();
  try {
    state.options = await call("GET", "/api/work/options");
  } catch (e) {
    if (e.status !== 401) showResult(false, () => problemText(e));
    return;
  }
  state.filters = filtersFromUrl();
  renderChoices();
  writeFilters();
  if (may("live:feed")) { $("#link-state").hidden = false; socket.start(); }
  loadCounts();
  await loadItems();
  const ticket = new URLSearchParams(location.search).get("ticket");
  if (ticket) openItem({ ticket });
}

function renderWho() {
  const u = state.user;
  $("#who").textContent = u ? `${u.display_name || u.username} (${code("role_", u.role)})` : "";
}

async function start() {
  applyI18n();
  labelStatics();
  try {
    const period = localStorage.getItem(PERIOD_KEY);
    if (period && [...$("#period").options].some((o) => o.value === period)) $("#period").value = period;
  } catch (_) { /* no storage */ }
  let user;
  try {
    user = (await api("GET", "/api/me")).user;
  } catch (_) {
    showLogin("");
    return;
  }
  if (!holds(user, "work:supervise")) { showLogin(t("not_staff")); return; }
  showWork(user);
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
  if (holds(data.user, "work:supervise")) showWork(data.user);
  else showLogin(t("not_staff"));
});

$("#logout").addEventListener("click", async () => {
  await api("POST", "/api/logout").catch(() => null);
  showLogin("");
});

bindLangButton($("#lang"));
onLangChange(() => {
  labelStatics();
  renderWho();
  if (!state.user || !state.options) return;
  renderChoices();
  writeFilters();
  renderCounts();
  renderItems();
  renderBulkResult();
  renderResult();
  if (state.detail) renderDetail();
  renderDetailResult();
});

// Labels that are attributes rather than text.
function labelStatics() {
  $("#pages").setAttribute("aria-label", t("main_nav"));
  $("#select-all").setAttribute("aria-label", t("select_all"));
}

// --- filters (kept in the address: a reload or a link shows the same list) --------------------

function filtersFromUrl() {
  const params = new URLSearchParams(location.search);
  const f = {};
  for (const name of FILTERS) f[name] = params.get(name) || "";
  f.overdue = ["1", "true"].includes(f.overdue) ? "1" : "";
  return f;
}

function writeUrl() {
  const params = new URLSearchParams();
  for (const name of FILTERS) if (state.filters[name]) params.set(name, state.filters[name]);
  if (state.detail) params.set("ticket", state.detail.ticket);
  const text = params.toString();
  history.replaceState(null, "", text ? `?${text}` : location.pathname);
}

function option(value, text, selected) {
  const node = el("option", { value }, text);
  if (selected) node.selected = true;
  return node;
}

// Fills a select, keeping what was chosen.
function fillSelect(select, entries) {
  const keep = select.value;
  select.replaceChildren(...entries);
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

function targetChoices() {
  const o = state.options;
  return [
    option("", t("choose")),
    el("optgroup", { label: t("people") },
      ...o.users.map((u) => option(`u:${u.id}`, u.name))),
    el("optgroup", { label: t("pools") },
      ...o.teams.map((team) => option(`t:${team.id}`, fill("pool_of", { t: label2(team, team.name) })))),
  ];
}

function renderChoices() {
  const o = state.options;
  fillSelect($("#f-kind"), [option("", t("any")), ...o.kinds.map((k) => option(k, code("k_", k)))]);
  fillSelect($("#f-status"), [option("", t("all_unresolved")), option("all", t("all_statuses")),
    ...o.statuses.map((s) => option(s, code("s_", s)))]);
  fillSelect($("#f-priority"), [option("", t("any")), ...o.priorities.map((p) => option(p, code("p_", p)))]);
  fillSelect($("#f-owner"), [option("", t("any")), ...o.users.map((u) => option(String(u.id), u.name))]);
  fillSelect($("#f-team"), [option("", t("any")), ...o.teams.map((team) => option(String(team.id), label2(team, team.name)))]);
  fillSelect($("#bulk-target"), targetChoices());
  fillSelect($("#assign-target"), targetChoices());
}

// The filters' controls show state.filters.
function writeFilters() {
  const f = state.filters;
  $("#f-q").value = f.q;
  for (const name of ["kind", "status", "priority", "owner", "team"]) {
    const select = $(`#f-${name}`);
    select.value = f[name];
    if (select.value !== f[name]) { select.value = ""; f[name] = ""; }
  }
  $("#f-overdue").checked = f.overdue === "1";
}

function readFilters() {
  state.filters = {
    q: $("#f-q").value.trim(),
    kind: $("#f-kind").value, status: $("#f-status").value, priority: $("#f-priority").value,
    owner: $("#f-owner").value, team: $("#f-team").value, overdue: $("#f-overdue").checked ? "1" : "",
  };
}

function applyFilters() {
  readFilters();
  writeUrl();
  loadItems();
  loadCounts();
}

$("#filters").addEventListener("submit", (ev) => { ev.preventDefault(); clearTimeout(state.searchTimer); applyFilters(); });
for (const id of ["#f-kind", "#f-status", "#f-priority", "#f-owner", "#f-team", "#f-overdue"]) {
  $(id).addEventListener("change", applyFilters);
}
$("#f-q").addEventListener("input", () => {
  clearTimeout(state.searchTimer);
  state.searchTimer = setTimeout(applyFilters, 500);
});
$("#reset").addEventListener("click", () => {
  state.filters = Object.fromEntries(FILTERS.map((n) => [n, ""]));
  writeFilters();
  applyFilters();
});
$("#show-overdue").addEventListener("click", () => {
  $("#f-overdue").checked = true;
  applyFilters();
  $("#list-title").scrollIntoView({ block: "start" });
});

function listQuery(cursor, limit) {
  const f = state.filters;
  const params = new URLSearchParams();
  if (f.q) params.set("q", f.q);
  for (const name of ["kind", "priority", "owner", "team"]) if (f[name]) params.set(name, f[name]);
  if (f.status === "") params.set("open", "true");
  else if (f.status !== "all") params.set("status", f.status);
  if (f.overdue) params.set("overdue", "true");
  params.set("limit", String(limit));
  if (cursor) params.set("cursor", cursor);
  return `/api/work/items?${params}`;
}

const filtered = () => FILTERS.some((n) => state.filters[n]);

// --- the list ---------------------------------------------------------------------------------

// append: the next page after what is shown; keep: the same number of rows again (a refresh).
async function loadItems({ append = false, keep = false } = {}) {
  const seq = ++state.listSeq;
  const limit = keep ? Math.min(MAX_PAGE, Math.max(PAGE, state.items.length)) : PAGE;
  if (!append && !keep) {
    // A new query: the cursor shown belongs to the old one, so "more" waits for the answer
    // (a stale cursor with the new filters would append rows of another list).
    state.nextCursor = null;
    $("#more").hidden = true;
  }
  let page;
  $("#items").setAttribute("aria-busy", "true");
  try {
    page = await call("GET", listQuery(append ? state.nextCursor : null, limit));
  } catch (e) {
    if (seq !== state.listSeq) return;
    $("#items").removeAttribute("aria-busy");
    if (e.status !== 401) $("#list-error").textContent = `${t("read_failed")}: ${problemText(e)}`;
    return;
  }
  if (seq !== state.listSeq) return;
  $("#items").removeAttribute("aria-busy");
  $("#list-error").textContent = "";
  for (const item of page.items) state.byId.set(item.id, item);
  state.items = append ? [...state.items, ...page.items] : page.items;
  state.nextCursor = page.next_cursor;
  renderItems();
}

$("#more").addEventListener("click", async () => {
  const before = state.items.length;
  await loadItems({ append: true });
  // The first new row takes the focus: the keyboard goes on where the list grew.
  const row = $("#items").tBodies[0].rows[before];
  if (row) $(".open-item", row).focus();
});

function renderCaption() {
  const n = state.items.length;
  $("#items-caption").textContent = fill(state.nextCursor ? "caption_more" : "caption", { n }) +
    (filtered() ? t("caption_filtered") : "");
}

function renderItems() {
  const body = $("#items").tBodies[0];
  // A refresh keeps the keyboard where it was.
  const focused = document.activeElement;
  const focusRow = focused && body.contains(focused) ? focused.closest("tr") : null;
  const focusId = focusRow ? focusRow.dataset.id : null;
  const focusClass = focused && focused.classList.contains("pick-item") ? "pick-item" : "open-item";
  body.replaceChildren(...state.items.map(itemRow));
  if (focusId) {
    const row = body.querySelector(`tr[data-id="${CSS.escape(focusId)}"]`);
    if (row) $(`.${focusClass}`, row).focus();
  }
  renderCaption();
  $("#empty").hidden = state.items.length > 0;
  $("#more").hidden = !state.nextCursor;
  renderSelection();
}

function itemRow(item) {
  const overdue = isOverdue(item);
  const pick = el("input", { type: "checkbox", class: "pick-item",
    "aria-label": fill("select_item", { t: item.ticket }) });
  pick.checked = state.selected.has(item.id);
  pick.addEventListener("change", () => {
    if (pick.checked) state.selected.add(item.id); else state.selected.delete(item.id);
    renderSelection();
  });
  const opener = el("button", { type: "button", class: "open-item link", "aria-label": fill("open_item", { t: item.ticket }),
    onclick: (ev) => openItem({ id: item.id }, ev.currentTarget) }, item.ticket);
  const row = el("tr", { "data-id": String(item.id), "data-ticket": item.ticket,
                         class: overdue ? "overdue" : null, "data-priority": item.priority },
    el("td", { class: "pick" }, pick),
    el("th", { scope: "row", class: "ticket" }, opener),
    el("td", { class: "title-cell" }, el("span", { class: "item-title" }, item.title),
      el("span", { class: "cat muted" }, categoryName(item.category))),
    el("td", { class: "kind" }, code("k_", item.kind)),
    el("td", { class: `prio prio-${item.priority}` }, code("p_", item.priority)),
    el("td", { class: "status" }, code("s_", item.status)),
    el("td", { class: "owner" + (item.owner_id == null ? " muted" : "") }, ownerText(item)),
    el("td", { class: "team" }, item.team_id != null ? teamName(item.team_id, item.team_name) : t("none")),
    el("td", { class: "due" }, ...dueNode(item)),
    el("td", { class: "num esc" + (item.escalations ? "" : " muted") }, String(item.escalations)));
  row.item = item;
  // A click anywhere on the row opens it (the ticket's button is the keyboard's way).
  row.addEventListener("click", (ev) => {
    if (ev.target.closest("input, button, a, label")) return;
    openItem({ id: item.id }, opener);
  });
  return row;
}

// Every half minute the deadlines move on, without a round trip.
function tickDeadlines() {
  for (const row of $("#items").tBodies[0].rows) {
    if (!row.item) continue;
    row.classList.toggle("overdue", isOverdue(row.item));
    row.querySelector("td.due").replaceChildren(...dueNode(row.item));
  }
}

// --- selection and bulk reassign --------------------------------------------------------------

function renderSelection() {
  const shown = state.items.map((i) => i.id);
  const picked = shown.filter((id) => state.selected.has(id)).length;
  const all = $("#select-all");
  all.checked = shown.length > 0 && picked === shown.length;
  all.indeterminate = picked > 0 && picked < shown.length;
  $("#selected-count").textContent = fill("selected", { n: state.selected.size });
  $("#bulk").classList.toggle("active", state.selected.size > 0);
}

$("#select-all").addEventListener("change", () => {
  const on = $("#select-all").checked;
  for (const item of state.items) {
    if (on) state.selected.add(item.id); else state.selected.delete(item.id);
  }
  for (const box of $$("#items tbody input.pick-item")) box.checked = on;
  renderSelection();
});

$("#clear-selection").addEventListener("click", () => {
  state.selected.clear();
  for (const box of $$("#items tbody input.pick-item")) box.checked = false;
  renderSelection();
});

function target(value) {
  const [kind, id] = value.split(":");
  if (kind === "u") return { owner_id: Number(id) };
  if (kind === "t") return { team_id: Number(id) };
  return null;
}
function targetName(value) {
  const to = target(value);
  if (!to) return "";
  return to.owner_id ? userName(to.owner_id) : fill("pool_of", { t: teamName(to.team_id) });
}

$("#bulk-assign").addEventListener("click", async () => {
  const value = $("#bulk-target").value;
  const to = target(value);
  if (!state.selected.size) { state.bulkResult = { message: "nothing_selected" }; renderBulkResult(); return; }
  if (!to) { state.bulkResult = { message: "choose_target" }; renderBulkResult(); $("#bulk-target").focus(); return; }
  const ids = [...state.selected];
  const button = $("#bulk-assign");
  button.disabled = true;
  try {
    const answer = await call("POST", "/api/work/bulk-assign", { ids, ...to });
    state.bulkResult = { answer, target: value };
    for (const id of answer.assigned) state.selected.delete(id);
  } catch (e) {
    if (e.status === 401) return;
    state.bulkResult = { error: e };
  } finally {
    button.disabled = false;
  }
  renderBulkResult();
  loadItems({ keep: true });
  loadCounts();
});

function renderBulkResult() {
  const node = $("#bulk-result");
  const r = state.bulkResult;
  if (!r) { node.replaceChildren(); node.className = "result"; return; }
  if (r.message) { node.className = "result error"; node.textContent = t(r.message); return; }
  if (r.error) { node.className = "result error"; node.textContent = problemText(r.error); return; }
  const { assigned, refused } = r.answer;
  node.className = "result " + (!refused.length ? "ok" : assigned.length ? "warn" : "error");
  const parts = [el("span", {}, fill("bulk_done", { n: assigned.length, x: targetName(r.target) }))];
  if (refused.length) {
    parts.push(" ", el("span", {}, fill("bulk_refused", { n: refused.length })),
      el("ul", { class: "refusals" }, ...refused.map((x) => {
        const item = state.byId.get(x.id);
        const key = `err_${x.error}`;
        // The page's words for a known refusal; the server's own words otherwise.
        const why = t(key) === key ? `${x.error}: ${x.message}` : t(key);
        return el("li", { "data-id": String(x.id) }, el("strong", {}, item ? item.ticket : `#${x.id}`), `: ${why}`);
      })));
  }
  node.replaceChildren(...parts);
}

// --- counts -----------------------------------------------------------------------------------

function since() {
  const period = $("#period").value;
  const now = new Date(serverNow());
  if (period === "today") { now.setHours(0, 0, 0, 0); return now; }
  if (period === "7d") return new Date(now.getTime() - 7 * 86400e3);
  if (period === "30d") return new Date(now.getTime() - 30 * 86400e3);
  return null;
}

async function loadCounts() {
  const params = new URLSearchParams();
  if (state.filters.team) params.set("team", state.filters.team);
  const from = since();
  if (from) params.set("since", from.toISOString());
  try {
    state.counts = await call("GET", `/api/work/counts?${params}`);
  } catch (e) {
    if (e.status !== 401) showResult(false, () => problemText(e));
    return;
  }
  renderCounts();
}

function renderCounts() {
  const c = state.counts;
  for (const li of $$("#counts li.count")) {
    const value = c ? c[li.dataset.count] : null;
    $(".n", li).textContent = value == null ? "—" : String(value);
  }
  $("#counts").classList.toggle("has-overdue", Boolean(c && c.overdue));
  const rate = $("#counts li[data-count=resolved_on_time] .rate");
  rate.textContent = c && c.resolved ? fill("c_rate", { n: Math.round((100 * c.resolved_on_time) / c.resolved) }) : "";
  const period = $("#period").selectedOptions[0];
  const notes = [fill("c_period_note", { p: period ? period.textContent : "" })];
  if (state.filters.team) notes.push(fill("c_counts_team", { t: teamName(Number(state.filters.team)) }));
  $("#counts-note").textContent = notes.join(" · ");
}

$("#period").addEventListener("change", () => {
  try { localStorage.setItem(PERIOD_KEY, $("#period").value); } catch (_) { /* not kept */ }
  loadCounts();
});

// --- refreshing ---------------------------------------------------------------------------------

function scheduleRefresh() {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    if (!state.user) return;
    loadCounts();
    loadItems({ keep: true });
  }, 500);
}

// --- the item's detail --------------------------------------------------------------------------

async function openItem({ id, ticket }, opener) {
  const active = document.activeElement;
  state.opener = opener || (active && active !== document.body && !$("#detail").contains(active) ? active : null);
  let detail;
  try {
    detail = await call("GET", id != null ? `/api/work/items/${enc(id)}` : `/api/work/tickets/${enc(ticket)}`);
  } catch (e) {
    if (e.status === 401) return;
    showResult(false, () => (e.status === 404 || e.status === 400
      ? fill("not_found", { t: ticket || `#${id}` }) : problemText(e)));
    return;
  }
  showDetailResult(true, null);
  for (const id2 of ["#assign-note", "#status-note", "#status-resolution", "#note-text"]) $(id2).value = "";
  $("#assign-target").value = "";
  setDetail(detail);
  const dialog = $("#detail");
  if (!dialog.open) dialog.showModal();
  $("#detail-close").focus();
  writeUrl();
}

function setDetail(detail) {
  state.detail = detail;
  state.byId.set(detail.id, detail);
  // The list shows the same item as the dialog.
  const at = state.items.findIndex((i) => i.id === detail.id);
  if (at >= 0) {
    state.items[at] = detail;
    const row = $(`#items tbody tr[data-id="${detail.id}"]`);
    if (row) row.replaceWith(itemRow(detail));
  }
  renderDetail();
}

async function reloadDetail() {
  if (!state.detail) return false;
  try {
    setDetail(await call("GET", `/api/work/items/${enc(state.detail.id)}`));
    return true;
  } catch (e) {
    if (e.status !== 401) showDetailResult(false, () => problemText(e));
    return false;
  }
}

$("#detail").addEventListener("close", () => {
  const closedId = state.detail ? state.detail.id : null;
  state.detail = null;
  state.detailResult = null;
  writeUrl();
  // The focus goes back where it was; else to the item's row (rebuilt meanwhile, or the item
  // was opened from the address), else to the list.
  const back = state.opener && state.opener.isConnected ? state.opener
    : closedId != null ? $(`#items tbody tr[data-id="${closedId}"] .open-item`) : null;
  (back || $("#list-title")).focus();
});
$("#detail-close").addEventListener("click", () => $("#detail").close());

function fact(key, ...value) {
  return [el("dt", {}, t(key)), el("dd", {}, ...value)];
}

function renderDetail() {
  const d = state.detail;
  if (!d) return;
  const overdue = isOverdue(d);
  $("#d-ticket").textContent = d.ticket;
  $("#d-title").textContent = d.title;
  $("#detail").classList.toggle("overdue", overdue);
  const customer = [d.customer_name, d.phone].filter(Boolean).join(" · ") ||
    (d.customer_id != null ? fill("customer_id", { n: d.customer_id }) : t("none"));
  const facts = [
    ...fact("status", code("s_", d.status)),
    ...fact("priority", el("span", { class: `prio prio-${d.priority}` }, code("p_", d.priority))),
    ...fact("item_kind", code("k_", d.kind)),
    ...fact("category", categoryName(d.category)),
    ...fact("owner", ownerText(d)),
    ...fact("team", d.team_id != null ? teamName(d.team_id, d.team_name) : t("none")),
    ...fact("customer", customer),
    ...fact("deadline", ...dueNode(d)),
    ...fact("first_response", when(d.first_response_due),
      d.first_response_at ? el("span", { class: "muted" }, ` · ${t("responded")} ${when(d.first_response_at)}`) : ""),
    ...fact("created", when(d.created_at, true), el("span", { class: "muted" }, ` · ${code("src_", d.source)}`),
      d.queue ? el("span", { class: "muted" }, ` · ${t("queue")} ${d.queue}`) : ""),
    ...fact("escalations", String(d.escalations)),
  ];
  if (d.resolution) facts.push(...fact("resolution", d.resolution));
  // The caller's message, when the item was filed from a queue's voicemail exit (the audio is
  // served to those who handle the item: its owner, its team, a supervisor of it).
  if (d.voicemail) {
    const n = d.voicemail.duration_seconds;
    facts.push(...fact("voicemail",
      el("audio", { controls: "", preload: "none", src: d.voicemail.audio_url, "aria-label": fill("vm_player", { n }) }),
      el("span", { class: "muted" }, ` ${fill("vm_length", { n })}`)));
  }
  facts.push(...fact("version", String(d.version)));
  $("#d-facts").replaceChildren(...facts);
  $("#d-facts").classList.toggle("overdue", overdue);

  // Actions: what the item's status allows.
  const open = isOpen(d);
  $("#assign-form").hidden = !open;
  $("#take").hidden = !open || d.owner_id === state.user.id;
  const next = (state.options.transitions[d.status] || []);
  const select = $("#status-to");
  const keep = select.value;
  select.replaceChildren(...(next.length ? next.map((s) => option(s, code("s_", s))) : [option("", t("no_transition"))]));
  if (next.includes(keep)) select.value = keep;
  select.disabled = !next.length;
  $("#status-form button[type=submit]").disabled = !next.length;
  $("#resolution-field").hidden = select.value !== "resolved";

  renderTimeline(d);
  renderCalls(d);
  renderLinks(d);
  renderAttempts(d);
}

function eventWords(e) {
  const data = e.data || {};
  const who = (id) => (id == null ? t("pool") : userName(id));
  switch (e.kind) {
    case "created":
      return [code("k_", data.kind || ""), code("p_", data.priority || ""), categoryName(data.category || ""),
        data.owner_id != null ? userName(data.owner_id) : data.team_id != null ? fill("to_pool", { t: teamName(data.team_id) }) : "",
        data.due_at ? `${t("deadline")} ${when(data.due_at)}` : ""].filter(Boolean).join(" · ");
    case "status": {
      const words = `${code("s_", data.before || "")} → ${code("s_", data.after || "")}`;
      if (data.after === "resolved" && data.on_time != null) return `${words} (${data.on_time ? t("on_time") : t("late")})`;
      return words;
    }
    case "owner": {
      const words = [`${who(data.before)} → ${who(data.after)}`];
      if (data.team_after != null && data.team_after !== data.team_before) {
        words.push(`${t("team")} ${data.team_before != null ? teamName(data.team_before) : t("none")} → ${teamName(data.team_after)}`);
      }
      return words.join(" · ");
    }
    case "escalated": {
      const names = (data.notified || []).map((id) => userName(id)).join(", ");
      return [code("tier_", data.tier || ""), data.due_at ? `${t("deadline")} ${when(data.due_at)}` : "", names ? `→ ${names}` : ""]
        .filter(Boolean).join(" · ");
    }
    case "deadline":
      return data.due_at ? `${t("deadline")} ${when(data.due_at)}` : "";
    case "call":
      return data.call_id != null ? `#${data.call_id}` : "";
    case "link":
      return [data.ticket || (data.other != null ? `#${data.other}` : ""), data.relation ? code("r_", data.relation) : ""]
        .filter(Boolean).join(" · ");
    default:
      return "";
  }
}

function renderTimeline(d) {
  const list = $("#d-timeline");
  if (!d.timeline.length) {
    list.replaceChildren(el("li", { class: "muted" }, t("timeline_empty")));
    return;
  }
  list.replaceChildren(...d.timeline.map((e) => {
    const words = eventWords(e);
    return el("li", { class: `ev ev-${e.kind}`, "data-kind": e.kind },
      el("time", { datetime: e.at }, when(e.at)), " ",
      el("span", { class: "ev-kind" }, code("e_", e.kind)), " ",
      el("span", { class: "ev-actor muted" }, e.actor_id == null && e.actor === "system" ? "" : e.actor),
      words ? el("span", { class: "ev-data" }, words) : null,
      e.text ? el("p", { class: "ev-text" }, e.text) : null);
  }));
}

function renderCalls(d) {
  const body = $("#d-calls").tBodies[0];
  body.replaceChildren(...d.calls.map((c) => el("tr", {},
    el("td", {}, when(c.joined_at)),
    el("td", {}, code("dir_", c.direction)),
    el("td", {}, c.queue || t("none")),
    el("td", {}, c.caller_number || t("none")),
    el("td", {}, c.answered_by_name || c.answered_by || t("none")),
    el("td", {}, c.outcome || t("none")))));
  $("#d-calls").hidden = !d.calls.length;
  $("#d-no-calls").hidden = d.calls.length > 0;
}

function renderLinks(d) {
  $("#d-links").replaceChildren(...d.links.map((l) => el("li", {},
    el("button", { type: "button", class: "link", onclick: (ev) => openItem({ id: l.id }, ev.currentTarget) }, l.ticket),
    ` ${l.title} · ${code("k_", l.kind)} · ${code("s_", l.status)} · `,
    el("span", { class: "muted" }, code("r_", l.relation)))));
  $("#d-no-links").hidden = d.links.length > 0;
}

function renderAttempts(d) {
  const attempts = d.attempts || [];
  $("#attempts-section").hidden = d.kind !== "callback" && !attempts.length;
  $("#d-attempts").tBodies[0].replaceChildren(...attempts.map((a) => el("tr", {},
    el("td", { class: "num" }, String(a.attempt)),
    el("td", {}, when(a.started_at)),
    el("td", {}, a.agent_name || a.agent_interface || t("none")),
    el("td", {}, a.number),
    el("td", {}, a.outcome || t("none")),
    el("td", {}, a.reason || ""))));
  $("#d-attempts").hidden = !attempts.length;
  $("#d-no-attempts").hidden = attempts.length > 0;
}

$("#status-to").addEventListener("change", () => {
  $("#resolution-field").hidden = $("#status-to").value !== "resolved";
});

// One change of the open item: the answer is the item as it is now. A stale version reloads the
// item (the user's typed words stay in the forms) and says so.
async function change(path, body, done, form) {
  const d = state.detail;
  if (!d) return;
  const buttons = form ? $$("button", form) : [];
  for (const b of buttons) b.disabled = true;
  try {
    const answer = await call("POST", `/api/work/items/${enc(d.id)}/${path}`, body);
    setDetail(answer);
    showDetailResult(true, done);
    scheduleRefresh();
    return true;
  } catch (e) {
    if (e.status === 401) return false;
    if (e.error === "stale-item") {
      await reloadDetail();
      showDetailResult(false, () => t("stale"));
      scheduleRefresh();
    } else {
      showDetailResult(false, () => problemText(e));
    }
    return false;
  } finally {
    for (const b of buttons) b.disabled = false;
    if (state.detail) renderDetail();
  }
}

$("#assign-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const value = $("#assign-target").value;
  const to = target(value);
  if (!to) return;
  const name = targetName(value);
  const ok = await change("assign", { version: state.detail.version, ...to, note: $("#assign-note").value.trim() },
    () => fill("assigned_to", { x: name }), ev.currentTarget);
  if (ok) { $("#assign-note").value = ""; $("#assign-target").value = ""; }
});

$("#take").addEventListener("click", (ev) => {
  change("take", { version: state.detail.version }, () => t("taken"), ev.currentTarget.form);
});

$("#status-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const status = $("#status-to").value;
  if (!status) return;
  const body = { version: state.detail.version, status, note: $("#status-note").value.trim() };
  const resolution = $("#status-resolution").value.trim();
  if (status === "resolved" && resolution) body.resolution = resolution;
  const ok = await change("status", body, () => fill("status_now", { x: code("s_", status) }), ev.currentTarget);
  if (ok) { $("#status-note").value = ""; $("#status-resolution").value = ""; }
});

$("#note-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("#note-text").value.trim();
  if (!text) return;
  const ok = await change("notes", { text }, () => t("noted"), ev.currentTarget);
  if (ok) $("#note-text").value = "";
});

// --- timers ---------------------------------------------------------------------------------------

setInterval(() => {
  if (!state.user) return;
  tickDeadlines();
  if (state.detail) {
    $("#detail").classList.toggle("overdue", isOverdue(state.detail));
  }
}, 30000);
// The whole list again every minute (what other supervisors and agents changed).
setInterval(() => { if (state.user && !document.hidden) scheduleRefresh(); }, 60000);

start();
