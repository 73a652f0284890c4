// The supervisor wallboard: live queue figures, agents and callers over /ws/live, with the
// control actions of /api/queues/... and /api/agents/... Plain JS (an ES module), no build step.
import {
  $, $$, el, api, liveSocket, t, setLang, rememberedLang, applyI18n, onLangChange,
  bindLangButton, showLinkState,
} from "/static/common/common.js";
import "./i18n.js";

const state = {
  user: null, queues: [], callStarts: new Map(), levels: new Map(), routing: [],
  refreshTimer: null, barsTimer: null,
};

// --- helpers --------------------------------------------------------------------------------

const enc = encodeURIComponent;
const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(0)}%`);
const secs = (v) => (v === null || v === undefined ? "—" : `${Math.round(v)}s`);
function clock(seconds) {
  if (seconds === null || seconds === undefined || seconds < 0) return "—";
  const s = Math.floor(seconds), m = Math.floor(s / 60);
  return `${String(m).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}
const since = (iso) => (Date.now() - Date.parse(iso)) / 1000;
const isStaff = (user) => ["supervisor", "admin"].includes(user.role);

function showResult(ok, text) {
  const node = $("#action-result");
  node.className = ok ? "" : "error";
  node.textContent = text;
}

async function act(method, path, body) {
  try {
    const data = await api(method, path, body);
    showResult(true, `${t("ok")}: ${((data && data.done) || []).join("; ")}`);
  } catch (e) {
    showResult(false, `${t("failed")} (${e.status}): ${e.message}`);
  }
  scheduleRefresh();
}

// A button whose text follows the language (data-i18n), with its action.
const button = (cls, key, onclick) =>
  el("button", { type: "button", class: cls, "data-i18n": key, onclick }, t(key));

// --- live feed (reconnects with jittered back-off; a lost session shows the login) ----------

const socket = liveSocket("/ws/live", {
  onMessage: (msg) => onMessage(msg),
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
  socket.stop();
  $("#login-view").hidden = false; $("#board-view").hidden = true; $("#logout").hidden = true;
  $("#who").textContent = "";
  $("#login-error").textContent = message || "";
}

function showBoard(user) {
  state.user = user;
  $("#login-view").hidden = true; $("#board-view").hidden = false; $("#logout").hidden = false;
  $("#who").textContent = `${user.display_name} (${user.role})`;
  socket.start();
  refresh();
  loadBars();
  loadRouting();
}

async function start() {
  // The wallboard used to keep its own language choice; the pages now share one.
  try {
    const legacy = localStorage.getItem("wallboard.lang");
    if (legacy) {
      localStorage.removeItem("wallboard.lang");
      if (!rememberedLang()) setLang(legacy);
    }
  } catch (_) { /* no storage */ }
  applyI18n();
  let user;
  try {
    user = (await api("GET", "/api/me")).user;
  } catch (_) {
    showLogin("");
    return;
  }
  if (!isStaff(user)) { showLogin(t("not_staff")); return; }
  if (!rememberedLang() && user.language) setLang(user.language, { remember: false });
  showBoard(user);
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  let data;
  try {
    data = await api("POST", "/api/login", { username: $("#username").value,
                                             password: $("#password").value });
  } catch (e) {
    $("#login-error").textContent = e.status === 429 ? t("too_many")
      : e.status === 0 || e.status >= 500 ? e.message : t("bad_login");
    return;
  }
  if (isStaff(data.user)) showBoard(data.user);
  else showLogin(t("not_staff"));
});

$("#logout").addEventListener("click", async () => {
  await api("POST", "/api/logout").catch(() => null);
  showLogin("");
});

bindLangButton($("#lang"));
onLangChange(() => {
  render(); renderRouting(); fillReasons();
  if (state.user) loadBars();
});

// --- live messages --------------------------------------------------------------------------

const key = (pbx, iface) => `${pbx}|${iface}`;

function onMessage(msg) {
  switch (msg.type) {
    case "snapshot":
      state.queues = msg.queues; render(); return;
    case "CallConnected":
      state.callStarts.set(key(msg.pbx, msg.agent_interface), Date.parse(msg.at)); break;
    case "CallEnded":
      if (msg.record && msg.record.answered_by) {
        state.callStarts.delete(key(msg.record.pbx, msg.record.answered_by));
      }
      scheduleBars(); break;
    case "RoutingLevel":
      state.levels.set(`${msg.pbx}/${msg.queue}`, msg);
      pushRouting(msg); return;
    case "RoutingAction": case "RoutingEpisode":
      pushRouting(msg); return;
    case "DesiredStateApplied":
      if ((msg.applied || []).length) showResult(true, `${t("reapplied")}: ${msg.applied.join("; ")}`);
      pushRouting(msg); break;
    case "CallRinging": case "CallRingNoAnswer": case "Ignored": return;
    default: break;
  }
  scheduleRefresh();
}

function scheduleRefresh() {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(() => { state.refreshTimer = null; refresh(); }, 250);
}

async function refresh() {
  try {
    state.queues = (await api("GET", "/api/queues")).queues;
  } catch (_) { return; }
  render();
}

// --- rendering ------------------------------------------------------------------------------

function render() {
  renderQueues(); renderCallers(); renderAgents(); renderQueueChoices();
}

function renderQueues() {
  const body = $("#queues").tBodies[0];
  body.replaceChildren();
  for (const q of state.queues) {
    const s = q.stats;
    const longest = q.callers.length ? Math.max(...q.callers.map((c) => since(c.joined_at))) : null;
    body.append(el("tr", { "data-queue": q.queue, "data-pbx": q.pbx },
      el("td", {}, q.queue),
      el("td", { class: "num" + (q.callers_waiting > 0 ? " warn" : "") }, String(q.callers_waiting)),
      el("td", { class: "num live-wait", "data-since": q.callers.length
        ? q.callers.reduce((a, c) => (a < c.joined_at ? a : c.joined_at), q.callers[0].joined_at) : "" },
         clock(longest)),
      el("td", { class: "num" }, pct(s.service_level_answered)),
      el("td", { class: "num" }, secs(s.asa_seconds)),
      el("td", { class: "num" }, secs(s.aht_seconds)),
      el("td", { class: "num" + (s.abandon_rate > 0.1 ? " alarm" : "") }, pct(s.abandon_rate)),
      el("td", { class: "num" }, pct(s.answer_rate)),
      el("td", { class: "num" }, [q.agents_available, q.agents_busy, q.agents_ringing,
                                  q.agents_paused, q.agents_unavailable].join(" / "))));
  }
}

function qs(pbx) { return `?pbx=${enc(pbx)}`; }

function renderCallers() {
  const body = $("#callers").tBodies[0];
  const seen = new Set();
  for (const q of state.queues) {
    for (const c of q.callers) {
      const id = key(q.pbx, c.uniqueid);
      seen.add(id);
      let row = body.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
      if (!row) row = buildCallerRow(body, q, c, id);
      row.cells[0].textContent = q.queue;
      row.cells[1].textContent = String(c.position);
      row.cells[2].textContent = c.caller_name && c.caller_name !== c.caller_num
        ? `${c.caller_name} ${c.caller_num}` : c.caller_num;
      row.cells[3].dataset.since = c.joined_at;
      row.cells[3].textContent = clock(since(c.joined_at));
      row.querySelector("input.prio").placeholder = c.priority === null ? "0" : String(c.priority);
      row.dataset.queue = q.queue;
      fillMoveChoices(row.querySelector("select.move-to"), q);
    }
  }
  for (const row of [...body.rows]) if (!seen.has(row.dataset.id)) row.remove();
}

function buildCallerRow(body, q, c, id) {
  const prio = el("input", { class: "prio penalty", type: "number", min: "0" });
  const moveTo = el("select", { class: "move-to" });
  const path = (what) => `/api/queues/${enc(row.dataset.queue)}/callers/${enc(c.uniqueid)}/${what}${qs(q.pbx)}`;
  const row = el("tr", { "data-id": id, "data-uniqueid": c.uniqueid },
    el("td"), el("td", { class: "num" }), el("td"), el("td", { class: "num live-wait" }),
    el("td", {}, prio, button("set-priority", "set", () =>
      act("POST", path("priority"), { priority: Number(prio.value || 0) }))),
    el("td", {}, moveTo,
      button("move", "move", () => act("POST", path("move"), { to_queue: moveTo.value })),
      button("withdraw", "withdraw", () => {
        if (confirm(t("confirm_withdraw"))) act("POST", path("withdraw"), {});
      })));
  body.append(row);
  return row;
}

function fillMoveChoices(select, queue) {
  const names = state.queues.filter((x) => x.pbx === queue.pbx && x.queue !== queue.queue)
    .map((x) => x.queue);
  if (select.dataset.names === names.join(",")) return;
  select.dataset.names = names.join(",");
  select.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
}

function renderAgents() {
  const body = $("#agents").tBodies[0];
  const seen = new Set();
  for (const q of state.queues) {
    for (const m of q.members) {
      const id = `${q.pbx}|${q.queue}|${m.interface}`;
      seen.add(id);
      let row = body.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
      if (!row) row = buildAgentRow(body, q, m, id);
      row.cells[1].textContent = m.name && m.name !== m.interface ? `${m.name} (${m.interface})` : m.interface;
      row.cells[2].textContent = t(m.state);
      row.cells[2].className = `state-${m.state}`;
      row.cells[3].textContent = m.paused ? (m.paused_reason || "—") : "";
      const started = state.callStarts.get(key(q.pbx, m.interface));
      row.cells[4].dataset.start = m.in_call && started ? String(started) : "";
      row.cells[4].textContent = m.in_call ? (started ? clock((Date.now() - started) / 1000) : "●") : "";
      row.cells[5].textContent = String(m.calls_taken);
      row.querySelector("input.penalty").placeholder = String(m.penalty);
      row.querySelector(".spy").hidden = !m.in_call;
      row.dataset.paused = m.paused ? "1" : "0";
    }
  }
  for (const row of [...body.rows]) if (!seen.has(row.dataset.id)) row.remove();
}

function buildAgentRow(body, q, m, id) {
  const base = `/api/queues/${enc(q.queue)}/members/${enc(m.interface)}`;
  const reason = el("input", { class: "reason", list: "pause-reasons",
    "data-i18n-placeholder": "reason_placeholder", placeholder: t("reason_placeholder") });
  const penalty = el("input", { class: "penalty", type: "number", min: "0", max: "1000" });
  const spy = (mode) => button(mode, mode, () =>
    act("POST", `/api/agents/${enc(m.interface)}/spy${qs(q.pbx)}`, { mode }));
  const row = el("tr", { "data-id": id, "data-queue": q.queue, "data-interface": m.interface },
    el("td", {}, q.queue), el("td"), el("td"), el("td"), el("td", { class: "num live-call" }),
    el("td", { class: "num" }),
    el("td", {}, penalty, button("set-penalty", "set", () =>
      act("POST", `${base}/penalty${qs(q.pbx)}`, { penalty: Number(penalty.value || 0) }))),
    el("td", {}, reason,
      button("pause", "pause", () =>
        act("POST", `${base}/pause${qs(q.pbx)}`, { paused: true, reason: reason.value.trim() })),
      button("unpause", "unpause", () =>
        act("POST", `${base}/pause${qs(q.pbx)}`, { paused: false })),
      button("remove", "remove", () => {
        if (confirm(`${t("confirm_remove")} ${m.interface} / ${q.queue}?`)) act("DELETE", `${base}${qs(q.pbx)}`);
      }),
      button("logout", "logout_agent", () => {
        if (confirm(t("confirm_logout"))) act("POST", `/api/agents/${enc(m.interface)}/logout${qs(q.pbx)}`);
      }),
      el("span", { class: "spy" }, spy("listen"), spy("whisper"), spy("barge"))));
  body.append(row);
  return row;
}

function renderQueueChoices() {
  const select = $("#add-queue");
  const values = state.queues.map((q) => `${q.pbx}|${q.queue}`);
  if (select.dataset.values === values.join(",")) return;
  select.dataset.values = values.join(",");
  const several = new Set(state.queues.map((q) => q.pbx)).size > 1;
  select.replaceChildren(...state.queues.map((q) =>
    el("option", { value: `${q.pbx}|${q.queue}` }, several ? `${q.queue} (${q.pbx})` : q.queue)));
}

$("#add-member").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const [pbx, queue] = $("#add-queue").value.split("|");
  act("POST", `/api/queues/${enc(queue)}/members${qs(pbx)}`, {
    interface: $("#add-interface").value.trim(), name: $("#add-name").value.trim(),
    penalty: Number($("#add-penalty").value || 0) });
});

// --- routing panel --------------------------------------------------------------------------

function pushRouting(msg) {
  state.routing.unshift(msg);
  state.routing.length = Math.min(state.routing.length, 20);
  renderRouting();
}

function describeRouting(msg) {
  const when = msg.at ? new Date(msg.at).toLocaleTimeString() : "";
  if (msg.type === "RoutingLevel") return `${when} ${msg.queue}: ${msg.previous || "normal"} → ${msg.level} (${msg.reason || ""})`;
  if (msg.type === "DesiredStateApplied") return `${when} ${t("reapplied")}: ${(msg.applied || []).join("; ") || "—"}`;
  const what = msg.kind || msg.action || msg.type;
  const target = msg.interface || msg.uniqueid || msg.target || "";
  const result = msg.result || msg.status || "";
  return `${when} ${msg.queue || ""}: ${what} ${target} ${result}`.trim();
}

// The levels in force when the page opens (a surge may have started before); the feed's
// RoutingLevel messages take over from there and win over this answer.
async function loadRouting() {
  let data;
  try { data = await api("GET", "/api/routing/policies"); } catch (_) { return; }
  for (const p of data.policies) {
    for (const [pbx, level] of Object.entries(p.levels || {})) {
      const id = `${pbx}/${p.queue}`;
      if (!state.levels.has(id)) state.levels.set(id, { pbx, queue: p.queue, level });
    }
  }
  renderRouting();
}

function renderRouting() {
  $("#routing-levels").replaceChildren(...[...state.levels.values()].map((l) =>
    el("span", { class: `level-${l.level}` }, `${l.queue}: ${l.level}`)));
  $("#routing-actions").replaceChildren(...state.routing.map((m) => el("li", {}, describeRouting(m))));
  $("#routing-empty").hidden = state.routing.length > 0;
}

// --- last hour bars -------------------------------------------------------------------------

function scheduleBars() {
  if (state.barsTimer) return;
  state.barsTimer = setTimeout(() => { state.barsTimer = null; loadBars(); }, 2000);
}

async function loadBars() {
  let data;
  try { data = await api("GET", "/api/stats/intervals?minutes=60&step=5"); } catch (_) { return; }
  const bars = data.intervals;
  const top = Math.max(1, ...bars.map((b) => b.offered));
  // Heights go through the CSSOM (element.style), which style-src 'self' allows.
  const h = (n) => ({ height: `${(100 * n) / top}%` });
  $("#bars").replaceChildren(...bars.map((b) => {
    const label = new Date(b.start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return el("div", { class: "bar", title: `${label} ${t("offered")} ${b.offered} / ${t("answered")} ${b.answered} / ${t("abandoned")} ${b.abandoned}` },
      el("div", { class: "offered", style: h(b.offered) }),
      el("div", { class: "answered", style: h(b.answered) }),
      el("div", { class: "abandoned", style: h(b.abandoned) }),
      el("span", { class: "label" }, label));
  }));
}

// --- every second: clock, waits and call times move without a server round trip ------------

setInterval(() => {
  $("#clock").textContent = new Date().toLocaleTimeString();
  $$("td.live-wait").forEach((c) => {
    if (c.dataset.since) c.textContent = clock(since(c.dataset.since));
  });
  $$("td.live-call").forEach((c) => {
    if (c.dataset.start) c.textContent = clock((Date.now() - Number(c.dataset.start)) / 1000);
  });
}, 1000);
setInterval(() => { if (state.user) loadBars(); }, 60000);

const reasons = el("datalist", { id: "pause-reasons" });
document.body.append(reasons);
function fillReasons() {
  reasons.replaceChildren(
    ...["r_break", "r_lunch", "r_training", "r_meeting"].map((k) => el("option", { value: t(k) })));
}
fillReasons();

start();
