// The supervisor wallboard: live queue figures, agents and callers over /ws/live, with the
// control actions of /api/queues/... and /api/agents/...; agents by team (GET /api/roster)
// with their coded states, skills and a forced sign-out; work items' escalations as the feed
// tells them (work_escalated), each linking to the work-items page; the queue-settings editor
// (queue-settings.js, for queues:configure). Plain JS (an ES module), no build step.
import {
  $, $$, el, api, liveSocket, t, getLang, setLang, rememberedLang, applyI18n, onLangChange,
  bindLangButton, showLinkState,
} from "/static/common/common.js";
import "./i18n.js";
import {
  showQueueSettings, hideQueueSettings, queueSettingsMessage, queueSettingsLangChanged,
} from "./queue-settings.js";

const state = {
  user: null, queues: [], callStarts: new Map(), levels: new Map(), routing: [],
  refreshTimer: null, barsTimer: null,
  // GET /api/roster, and the over-limit alerts the feed sent (user id -> the state's since).
  roster: null, rosterTimer: null, overLimit: new Map(),
  // The server's clock minus the browser's (ms), from the `now` of each roster answer: the
  // running clocks count from the server's time, whatever the browser's clock says.
  clockOffset: 0,
  // Work items escalated since the page opened (item id -> {item, tier, at, times}).
  escalations: new Map(),
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
const serverNow = () => Date.now() + state.clockOffset;
const since = (iso) => (serverNow() - Date.parse(iso)) / 1000;
// The server read its clock between the request going out and the answer coming back: the
// middle of the two is the best guess of the browser's time at that instant.
function noteServerClock(answer, sentAt) {
  const server = answer && answer.now ? Date.parse(answer.now) : NaN;
  if (!Number.isNaN(server)) state.clockOffset = server - (sentAt + Date.now()) / 2;
}
// The wallboard is for whoever may follow the live feed (team leaders, supervisors, admins);
// what each part shows or offers then follows the user's other permissions.
const holds = (user, permission) => Boolean(user && (user.permissions || []).includes(permission));
const isStaff = (user) => holds(user, "live:feed");
const may = (permission) => holds(state.user, permission);

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
  state.user = null; state.roster = null;
  socket.stop();
  $("#login-view").hidden = false; $("#board-view").hidden = true; $("#logout").hidden = true;
  $("#who").textContent = "";
  hideQueueSettings();
  $("#login-error").textContent = message || "";
}

function showBoard(user) {
  state.user = user;
  $("#login-view").hidden = true; $("#board-view").hidden = false; $("#logout").hidden = false;
  $("#who").textContent = `${user.display_name} (${user.role})`;
  $("#teams-section").hidden = !may("teams:read");
  $("#work-link").hidden = !may("work:supervise");
  $("#handover-link").hidden = !may("work:supervise");
  $("#worklog-link").hidden = !may("worklog:review");
  $("#escalations-section").hidden = false;
  renderEscalations();
  showQueueSettings(may("queues:configure"));
  socket.start();
  refresh();
  loadRoster();
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
  $("#pages").setAttribute("aria-label", t("pages"));
  render(); renderRouting(); renderRoster(); renderEscalations(); queueSettingsLangChanged();
  if (state.user) loadBars();
});

// --- live messages --------------------------------------------------------------------------

const key = (pbx, iface) => `${pbx}|${iface}`;

function onMessage(msg) {
  switch (msg.type) {
    case "snapshot":
      state.queues = msg.queues; render(); queueSettingsMessage(msg); return;
    case "QueueSettingsApplied": case "QueueSettingsDrift":
      queueSettingsMessage(msg); return;
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
    case "AgentState":
      noteAgentState(msg); return;
    case "AgentStateOverLimit":
      state.overLimit.set(msg.user_id, msg.since);
      renderRoster(); scheduleRoster(); return;
    case "work_escalated":
      noteEscalation(msg); return;
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
      row.cells[3].textContent = m.paused ? pauseReason(m.paused_reason) : "";
      const started = state.callStarts.get(key(q.pbx, m.interface));
      row.cells[4].dataset.start = m.in_call && started ? String(started) : "";
      row.cells[4].textContent = m.in_call ? (started ? clock((serverNow() - started) / 1000) : "●") : "";
      row.cells[5].textContent = String(m.calls_taken);
      row.querySelector("input.penalty").placeholder = String(m.penalty);
      fillReasonChoices(row, m.interface, q.queue);
      row.querySelector(".spy").hidden = !m.in_call;
      row.dataset.paused = m.paused ? "1" : "0";
    }
  }
  for (const row of [...body.rows]) if (!seen.has(row.dataset.id)) row.remove();
}

// A pause reason that is a not-ready code shows as the code's label in the user's language.
function pauseReason(reason) {
  const code = reason && ((state.roster && state.roster.codes) || []).find((c) => c.code === reason);
  return code ? label2(code, code.code) : reason || "—";
}

// The reason to pause with: an active not-ready code (its label in the user's language, the
// code as the value), or "other…", which shows a free-text reason.
const OTHER = "*other"; // no code looks like this (codes are [a-z0-9][a-z0-9_-]*)

function activeCodes() {
  return ((state.roster && state.roster.codes) || []).filter((c) => c.active);
}

function fillReasonChoices(row, iface, queue) {
  const choice = $("select.reason-choice", row), text = $("input.reason", row);
  const who = `${iface} / ${queue}`;
  choice.setAttribute("aria-label", t("pause_reason_of").replace("{x}", who));
  text.setAttribute("aria-label", t("other_reason_of").replace("{x}", who));
  const codes = activeCodes();
  const signature = [getLang(), ...codes.map((c) => `${c.code}:${label2(c, c.code)}`)].join("|");
  if (choice.dataset.signature === signature) return;
  choice.dataset.signature = signature;
  const keep = choice.value;
  choice.replaceChildren(
    el("option", { value: "" }, t("reason_none")),
    ...codes.map((c) => el("option", { value: c.code }, label2(c, c.code))),
    el("option", { value: OTHER }, t("reason_other")));
  // What was chosen stays chosen (a retired code falls back to no reason).
  choice.value = [...choice.options].some((o) => o.value === keep) ? keep : "";
  text.hidden = choice.value !== OTHER;
}

function buildAgentRow(body, q, m, id) {
  const base = `/api/queues/${enc(q.queue)}/members/${enc(m.interface)}`;
  const reason = el("input", { class: "reason", maxlength: "120", hidden: "",
    "data-i18n-placeholder": "reason_placeholder", placeholder: t("reason_placeholder") });
  const choice = el("select", { class: "reason-choice" }, el("option", { value: "" }, t("reason_none")),
    el("option", { value: OTHER }, t("reason_other")));
  choice.addEventListener("change", () => {
    reason.hidden = choice.value !== OTHER;
    if (!reason.hidden) reason.focus();
  });
  const chosenReason = () => (choice.value === OTHER ? reason.value.trim() : choice.value);
  const penalty = el("input", { class: "penalty", type: "number", min: "0", max: "1000" });
  const spy = (mode) => button(mode, mode, () =>
    act("POST", `/api/agents/${enc(m.interface)}/spy${qs(q.pbx)}`, { mode }));
  const row = el("tr", { "data-id": id, "data-queue": q.queue, "data-interface": m.interface },
    el("td", {}, q.queue), el("td"), el("td"), el("td"), el("td", { class: "num live-call" }),
    el("td", { class: "num" }),
    el("td", {}, penalty, button("set-penalty", "set", () =>
      act("POST", `${base}/penalty${qs(q.pbx)}`, { penalty: Number(penalty.value || 0) }))),
    el("td", {}, choice, reason,
      button("pause", "pause", () =>
        act("POST", `${base}/pause${qs(q.pbx)}`, { paused: true, reason: chosenReason() })),
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
  fillReasonChoices(row, m.interface, q.queue);
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

// --- agents by team ------------------------------------------------------------------------

const STATES = ["ready", "on-call", "acw", "not-ready", "signed-out"];
const LEVELS = [1, 2, 3, 4, 5];
const LANGS = ["zh", "en"];

function scheduleRoster() {
  if (state.rosterTimer) return;
  state.rosterTimer = setTimeout(() => { state.rosterTimer = null; loadRoster(); }, 300);
}

function setText(node, text) { if (node.textContent !== text) node.textContent = text; }

async function loadRoster() {
  if (!may("teams:read")) return;
  const sentAt = Date.now();
  try {
    state.roster = await api("GET", "/api/roster");
    noteServerClock(state.roster, sentAt);
  } catch (e) {
    if (e.status === 401) { showLogin(""); return; }
    setText($("#roster-error"), `${t("roster_failed")} (${e.status}): ${e.message}`);
    return;
  }
  setText($("#roster-error"), "");
  renderRoster();
  renderAgents();
}

// A feed message: the agent's new state at once, the rest at the next roster read.
function noteAgentState(msg) {
  const r = state.roster;
  const agent = r && r.agents.find((a) => a.user_id === msg.user_id);
  if (agent) {
    agent.state = msg.state;
    if (Array.isArray(msg.teams)) agent.teams = msg.teams;
    if (msg.interface === null) agent.signed_in = null;
    else if (msg.interface && (!agent.signed_in || agent.signed_in.interface !== msg.interface)) {
      agent.signed_in = { pbx: msg.pbx, interface: msg.interface, via: "", since: null };
    }
    renderRoster();
  }
  scheduleRoster();
}

// Labels the admin gave in both languages: the user's, else the other one, else the name.
function label2(item, fallback) {
  return (getLang() === "en" ? item.label_en || item.label_zh : item.label_zh || item.label_en) || fallback;
}
function durationText(seconds) {
  const s = Math.max(0, Math.floor(seconds)), h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0"), ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}
function stateText(st) {
  if (!st) return "—";
  const name = t(`st_${st.state}`);
  if (st.state !== "not-ready") return name;
  if (st.code === "other") return `${name} · ${st.reason || t("code_other")}`;
  const code = ((state.roster && state.roster.codes) || []).find((c) => c.code === st.code);
  return `${name} · ${code ? label2(code, code.code) : st.code || t("code_other")}`;
}
function isOver(agent) {
  const st = agent.state;
  if (!st || st.state !== "not-ready") return false;
  if (st.over_limit || state.overLimit.get(agent.user_id) === st.since) return true;
  return st.limit_seconds != null && since(st.since) > st.limit_seconds;
}

// Per team (in the user's scope), its agents; then, for a user who sees every team, the
// agents of no team.
function teamGroups(r) {
  const groups = r.teams.map((team) => {
    const ids = new Set([...(team.members || []), ...(team.leaders || [])]);
    const agents = r.agents.filter((a) => ids.has(a.user_id) || (a.teams || []).includes(team.id));
    return { key: String(team.id), team, agents };
  });
  if (r.scope === "all") {
    const inTeam = new Set(groups.flatMap((g) => g.agents.map((a) => a.user_id)));
    const none = r.agents.filter((a) => !(a.teams || []).length && !inTeam.has(a.user_id));
    groups.push({ key: "none", team: null, agents: none });
  }
  for (const g of groups) {
    g.agents = [...g.agents].sort((a, b) =>
      (a.display_name || a.username).localeCompare(b.display_name || b.username, getLang()));
  }
  return groups;
}

function renderRoster() {
  const r = state.roster;
  const box = $("#teams");
  if (!r) { box.replaceChildren(); setText($("#roster-summary"), ""); $("#no-teams").hidden = true; return; }
  const groups = teamGroups(r).filter((g) => g.team || g.agents.length);
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const a of r.agents) if (a.state && a.state.state in counts) counts[a.state.state] += 1;
  setText($("#roster-summary"), STATES.map((s) => `${t(`st_${s}`)} ${counts[s]}`).join(" · "));
  const seen = new Set();
  let previous = null;
  for (const group of groups) {
    seen.add(group.key);
    let section = box.querySelector(`section.team[data-team="${CSS.escape(group.key)}"]`);
    if (!section) section = buildTeam(group);
    // Keep the server's order (moving a node only when it is out of place keeps the focus).
    const wanted = previous ? previous.nextElementSibling : box.firstElementChild;
    if (wanted !== section) box.insertBefore(section, wanted);
    previous = section;
    updateTeam(section, group);
  }
  for (const section of [...box.children]) if (!seen.has(section.dataset.team)) section.remove();
  $("#no-teams").hidden = groups.length > 0;
}

function buildTeam(group) {
  const id = `team-${group.key}`;
  const steer = may("agents:steer");
  const head = (key, cls) => el("th", { scope: "col", class: cls, "data-i18n": key }, t(key));
  return el("section", { class: "team", "data-team": group.key, "aria-labelledby": `${id}-title` },
    el("h3", { id: `${id}-title` }, el("span", { class: "team-name" }), " ",
      el("span", { class: "team-queues muted" }), " ", el("span", { class: "team-counts" })),
    el("table", { class: "team-agents" },
      el("thead", {}, el("tr", {}, head("agent"), head("state"), head("time_in_state", "num"),
        head("phone"), steer ? head("actions") : null)),
      el("tbody")));
}

function updateTeam(section, group) {
  const { team } = group;
  setText($(".team-name", section), team ? label2(team, team.name) : t("no_team"));
  setText($(".team-queues", section), team && team.queues.length ? `(${team.queues.join(", ")})` : "");
  const n = (s) => group.agents.filter((a) => a.state && a.state.state === s).length;
  const over = group.agents.filter(isOver).length;
  setText($(".team-counts", section),
    `${t("st_ready")} ${n("ready")} · ${t("st_on-call")} ${n("on-call")} · ${t("st_not-ready")} ${n("not-ready")}` +
    (over ? ` · ⚠ ${t("over_limit")} ${over}` : ""));
  $(".team-counts", section).classList.toggle("alarm", over > 0);
  const body = section.querySelector("tbody");
  const seen = new Set();
  let previous = null;
  for (const agent of group.agents) {
    const key = `${group.key}-${agent.user_id}`;
    seen.add(key);
    let row = body.querySelector(`tr.agent[data-key="${CSS.escape(key)}"]`);
    if (!row) row = buildTeamAgentRow(key, agent);
    const editor = row.nextElementSibling && row.nextElementSibling.classList.contains("skills-row")
      ? row.nextElementSibling : null;
    const wanted = previous ? previous.nextElementSibling : body.firstElementChild;
    if (wanted !== row) {
      body.insertBefore(row, wanted);
      if (editor) row.after(editor);
    }
    if (editor) seen.add(editor.dataset.key);
    previous = editor || row;
    updateAgentRow(row, agent, team);
  }
  if (!group.agents.length) {
    seen.add("empty");
    if (!body.querySelector("tr.empty")) {
      body.append(el("tr", { class: "empty", "data-key": "empty" },
        el("td", { colspan: may("agents:steer") ? "5" : "4", class: "muted", "data-i18n": "no_agents" },
          t("no_agents"))));
    }
  }
  for (const row of [...body.rows]) if (!seen.has(row.dataset.key)) row.remove();
}

function buildTeamAgentRow(key, agent) {
  const steer = may("agents:steer");
  const row = el("tr", { class: "agent", "data-key": key, "data-user-id": String(agent.user_id),
                         "data-username": agent.username },
    el("td", { class: "who" }, el("span", { class: "name" }), " ",
      el("span", { class: "login muted" }), el("span", { class: "badge leader", hidden: "" })),
    el("td", { class: "state-cell" }, el("span", { class: "st" }),
      el("span", { class: "over-flag", hidden: "" }, "⚠ ", el("span", { class: "over-word" }))),
    el("td", { class: "num live-since" }),
    el("td", { class: "phone" }));
  if (steer) {
    const editorId = `skills-${key}`;
    row.append(el("td", { class: "actions" },
      el("button", { type: "button", class: "edit-skills", "aria-expanded": "false",
                     "aria-controls": editorId, onclick: () => toggleSkills(row, editorId) },
        el("span", { "data-i18n": "skills" }, t("skills"))),
      " ",
      el("button", { type: "button", class: "force-signout", onclick: () => forceSignOut(row) },
        el("span", { "data-i18n": "force_signout" }, t("force_signout")))));
  }
  return row;
}

function updateAgentRow(row, agent, team) {
  row.agent = agent;
  const st = agent.state || { state: "signed-out" };
  setText($(".name", row), agent.display_name || agent.username);
  setText($(".login", row), agent.display_name && agent.display_name !== agent.username ? agent.username : "");
  const leader = Boolean(team && (team.leaders || []).includes(agent.user_id));
  $(".badge.leader", row).hidden = !leader;
  setText($(".badge.leader", row), leader ? t("leader") : "");
  const stNode = $(".st", row);
  stNode.className = `st st-${st.state}`;
  setText(stNode, stateText(st));
  row.dataset.state = st.state;
  row.dataset.since = st.since || "";
  const on = agent.signed_in;
  setText($(".phone", row), on ? on.interface : "—");
  $(".phone", row).title = on ? `${on.pbx} · ${on.via || ""}` : "";
  const signOut = $(".force-signout", row);
  if (signOut) signOut.disabled = !on;
  const name = agent.display_name || agent.username;
  for (const [cls, key] of [["edit-skills", "skills_of"], ["force-signout", "force_signout_of"]]) {
    const b = $(`.${cls}`, row);
    if (b) b.setAttribute("aria-label", t(key).replace("{name}", name));
  }
  tickAgentRow(row);
}

// Every second: the time in state, and the over-limit highlight once a limit is passed.
function tickAgentRow(row) {
  const agent = row.agent;
  if (!agent) return;
  const cell = $("td.live-since", row);
  setText(cell, row.dataset.since ? durationText(since(row.dataset.since)) : "—");
  const over = isOver(agent);
  row.classList.toggle("over-limit", over);
  const flag = $(".over-flag", row);
  flag.hidden = !over;
  setText($(".over-word", flag), over ? t("over_limit") : "");
}

// --- skills editor (agents:steer) -----------------------------------------------------------

function toggleSkills(row, editorId) {
  const button = $(".edit-skills", row);
  const open = document.getElementById(editorId);
  if (open) {
    open.remove();
    button.setAttribute("aria-expanded", "false");
    button.focus();
    return;
  }
  const editor = buildSkillsEditor(row, editorId);
  row.after(editor);
  button.setAttribute("aria-expanded", "true");
  $("select", editor)?.focus();
}

function levelOptions(selected) {
  return [el("option", { value: "", "data-i18n": "no_skill" }, t("no_skill")),
    ...LEVELS.map((n) => el("option", { value: String(n), selected: n === selected ? "" : null,
      "data-i18n": `level_${n}` }, t(`level_${n}`)))];
}

function buildSkillsEditor(row, editorId) {
  const agent = row.agent;
  const skills = agent.skills || {};
  const queues = [...new Set([...(state.roster.queues || []),
    ...Object.keys(skills).filter((s) => s.startsWith("queue:")).map((s) => s.slice(6))])].sort();
  const field = (skill, text, i18nKey) => {
    const id = `${editorId}-${skill.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
    return el("div", { class: "skill" },
      el("label", { for: id, "data-i18n": i18nKey }, text),
      el("select", { id, "data-skill": skill }, ...levelOptions(skills[skill])));
  };
  const result = el("p", { class: "skills-result", role: "status" });
  const name = agent.display_name || agent.username;
  const form = el("form", { class: "skills-editor", "aria-label": t("skills_of").replace("{name}", name) },
    el("fieldset", {}, el("legend", { "data-i18n": "queue_skills" }, t("queue_skills")),
      queues.length ? el("div", { class: "skill-grid" }, ...queues.map((q) => field(`queue:${q}`, q)))
        : el("p", { class: "muted", "data-i18n": "no_queues" }, t("no_queues"))),
    el("fieldset", {}, el("legend", { "data-i18n": "languages" }, t("languages")),
      el("div", { class: "skill-grid" }, ...LANGS.map((l) => field(`lang:${l}`, t(`lang_${l}`), `lang_${l}`)))),
    el("p", { class: "hint muted", "data-i18n": "levels_hint" }, t("levels_hint")),
    el("div", { class: "editor-buttons" },
      el("button", { type: "submit", class: "save-skills", "data-i18n": "save" }, t("save")),
      el("button", { type: "button", class: "close-skills", "data-i18n": "close",
                     onclick: () => toggleSkills(row, editorId) }, t("close"))),
    result);
  form.addEventListener("submit", (ev) => { ev.preventDefault(); saveSkills(row, form, result); });
  return el("tr", { class: "skills-row", id: editorId, "data-key": `${row.dataset.key}-skills` },
    el("td", { colspan: "5" }, form));
}

function describeItem(item) {
  if (typeof item === "string") return item;
  if (item && typeof item === "object") {
    const where = [item.pbx, item.queue, item.interface].filter(Boolean).join(" ");
    const what = item.error || item.message || item.reason || "";
    return [where, what].filter(Boolean).join(": ") || JSON.stringify(item);
  }
  return String(item);
}

async function saveSkills(row, form, result) {
  const skills = {};
  for (const select of $$("select[data-skill]", form)) {
    if (select.value) skills[select.dataset.skill] = Number(select.value);
  }
  const save = $(".save-skills", form);
  save.disabled = true;
  result.className = "skills-result";
  result.textContent = t("saving");
  let answer;
  try {
    answer = await api("PUT", `/api/agents/${enc(row.dataset.userId)}/skills`, { skills });
  } catch (e) {
    result.className = "skills-result error";
    result.textContent = `${t("failed")} (${e.status}): ${e.message}`;
    save.disabled = false;
    return;
  }
  save.disabled = false;
  if (row.agent) row.agent.skills = answer.skills;
  const applied = answer.applied || [], failed = answer.failed || [];
  result.className = "skills-result" + (failed.length ? " error" : " ok");
  // Words through data-i18n: a language switch translates the result too.
  const words = (key) => el("span", { "data-i18n": key }, t(key));
  result.replaceChildren(el("strong", {}, words("saved")));
  if (applied.length) result.append(el("br"), words("applied"), `: ${applied.map(describeItem).join("; ")}`);
  if (failed.length) result.append(el("br"), words("not_applied"), `: ${failed.map(describeItem).join("; ")}`);
  if (!applied.length && !failed.length) result.append(" ", words("nothing_live"));
  scheduleRoster();
}

async function forceSignOut(row) {
  const agent = row.agent;
  if (!agent) return;
  const name = agent.display_name || agent.username;
  const where = agent.signed_in ? agent.signed_in.interface : "";
  if (!confirm(t("confirm_signout").replace("{name}", name).replace("{phone}", where))) return;
  try {
    await api("POST", `/api/agents/${enc(agent.user_id)}/sign-out`, { reason: "" });
    showResult(true, `${t("ok")}: ${t("signed_out_msg").replace("{name}", name)}`);
  } catch (e) {
    showResult(false, `${t("failed")} (${e.status}): ${e.message}`);
  }
  scheduleRoster();
}

// --- work-item escalations -------------------------------------------------------------------

const MAX_ESCALATIONS = 30;

// One row per item, its latest tier on top: a sweep that passes two tiers at once (or an item
// that escalates again) moves its row up rather than adding one.
function noteEscalation(msg) {
  const item = msg.item;
  if (!item || item.id === undefined) return;
  const before = state.escalations.get(item.id);
  state.escalations.delete(item.id);
  state.escalations.set(item.id, { item, tier: msg.tier, at: serverNow(), times: (before ? before.times : 0) + 1 });
  while (state.escalations.size > MAX_ESCALATIONS) state.escalations.delete(state.escalations.keys().next().value);
  renderEscalations();
}

function escalationOverdue(item) {
  if (!item.due_at) return { text: t("clock_stopped"), over: false };
  const left = (Date.parse(item.due_at) - serverNow()) / 1000;
  if (left > 0) return { text: t("due_in").replace("{d}", durationText(left)), over: false };
  return { text: t("overdue_by").replace("{d}", durationText(-left)), over: true };
}

function escalationOwner(item) {
  if (item.owner_name) return item.owner_name;
  return item.team_name ? t("pool_of").replace("{t}", item.team_name) : t("pool");
}

function renderEscalations() {
  const body = $("#escalations").tBodies[0];
  const rows = [...state.escalations.values()].reverse();
  body.replaceChildren(...rows.map((e) => {
    const { item } = e;
    const late = escalationOverdue(item);
    const tierKey = `tier_${e.tier}`;
    const tier = t(tierKey) === tierKey ? e.tier : t(tierKey);
    return el("tr", { class: `escalation tier-${e.tier}`, "data-id": String(item.id), "data-ticket": item.ticket },
      el("td", { class: "esc-at" }, new Date(e.at).toLocaleTimeString()),
      el("th", { scope: "row" }, el("a", { href: `/work?ticket=${enc(item.ticket)}`,
        "aria-label": t("open_ticket").replace("{t}", item.ticket) }, item.ticket)),
      el("td", { class: "esc-title" }, item.title),
      el("td", { class: "esc-tier" }, el("span", { "aria-hidden": "true" }, "⚠ "), tier,
        e.times > 1 ? el("span", { class: "muted" }, ` (${t("times").replace("{n}", e.times)})`) : null),
      el("td", {}, escalationOwner(item)),
      el("td", { class: "num esc-overdue" + (late.over ? " alarm" : ""), "data-due": item.due_at || "" }, late.text));
  }));
  $("#escalations-empty").hidden = rows.length > 0;
  setText($("#escalations-count"), rows.length ? t("esc_count").replace("{n}", rows.length) : "");
}

function tickEscalations() {
  for (const row of $("#escalations").tBodies[0].rows) {
    const e = state.escalations.get(Number(row.dataset.id));
    if (!e) continue;
    const cell = $("td.esc-overdue", row);
    const late = escalationOverdue(e.item);
    setText(cell, late.text);
    cell.classList.toggle("alarm", late.over);
  }
}

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

// --- every second: clock, waits and call times move (on the server's time), no round trip ---

setInterval(() => {
  $("#clock").textContent = new Date(serverNow()).toLocaleTimeString();
  $$("td.live-wait").forEach((c) => {
    if (c.dataset.since) c.textContent = clock(since(c.dataset.since));
  });
  $$("td.live-call").forEach((c) => {
    if (c.dataset.start) c.textContent = clock((serverNow() - Number(c.dataset.start)) / 1000);
  });
  $$("#teams tr.agent").forEach(tickAgentRow);
  tickEscalations();
}, 1000);
setInterval(() => { if (state.user) loadBars(); }, 60000);
setInterval(() => { if (state.user) loadRoster(); }, 15000);

start();
