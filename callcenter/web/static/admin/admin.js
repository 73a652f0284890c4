// The admin page: teams (name, labels, queues, leaders, members), not-ready codes, agents
// (number, PIN, skills), the transfer directory (the teams and departments agents pass calls
// to), and users with their roles. Each part is shown only to users holding its permission
// (teams:edit, transfers:edit, users:admin); the API refuses the rest anyway. Plain JS (an ES
// module), no build step, no inline script or style (the page runs under a strict CSP).
import {
  $, $$, el, api, t, getLang, setLang, rememberedLang, applyI18n, onLangChange, bindLangButton,
} from "/static/common/common.js";
import "./i18n.js";

const enc = encodeURIComponent;
const LEVELS = [1, 2, 3, 4, 5];
const LANGS = ["zh", "en"];
const PANELS = [
  { name: "teams", permission: "teams:edit" },
  { name: "codes", permission: "teams:edit" },
  { name: "agents", permission: "teams:edit" },
  { name: "transfers", permission: "transfers:edit" },
  { name: "users", permission: "users:admin" },
];

const state = {
  user: null,
  roster: null, // GET /api/roster: teams, agents, codes, queues
  users: null, // GET /api/users (users:admin)
  roles: null, // GET /api/roles (users:admin)
  usersProblem: null,
  // Roles chosen in the users table and not applied yet, by user id: a reload of the table
  // (after any change on the page) keeps what the administrator was choosing.
  pendingRoles: new Map(),
  targets: null, // GET /api/transfer-targets (transfers:edit)
  targetsProblem: null,
  targetRead: null, // the target the editor opened, as read: what a save's version is of
  targetConflict: null, // after a 409 stale-target: { read, theirs, mine }
  targetError: null, // the editor's refusal: a function, so that it follows the language
  panel: null,
  result: null, // the last action's outcome: { ok, words }
};

const holds = (permission) => Boolean(state.user && (state.user.permissions || []).includes(permission));

// --- small helpers --------------------------------------------------------------------------

function label2(item, fallback) {
  return (getLang() === "en" ? item.label_en || item.label_zh : item.label_zh || item.label_en) || fallback;
}
function personName(p) {
  return p.display_name && p.display_name !== p.username ? `${p.display_name} (${p.username})` : p.username;
}
function roleName(role) {
  const key = `role_${role}`;
  const text = t(key);
  return text === key ? role : text;
}
function limitText(seconds) {
  if (seconds == null) return t("no_limit");
  return seconds % 60 === 0 ? t("n_min").replace("{n}", seconds / 60) : t("n_s").replace("{n}", seconds);
}
function problemText(e) {
  const key = `err_${e.error}`;
  const text = t(key);
  const fields = e.body && Array.isArray(e.body.fields)
    ? " " + e.body.fields.map((f) => (typeof f === "string" ? f : [f.field || (f.loc || []).join("."), f.message || f.msg].filter(Boolean).join(": "))).join("; ")
    : "";
  return `${text === key ? t("failed") : text} (${e.status}) ${t("server_says")}${e.message}${fields}`;
}
// The outcome of the last action. `words` is a function, called again after a language
// switch so that the message follows the language; null clears it.
function showResult(ok, words) {
  state.result = words ? { ok, words } : null;
  renderResult();
}
function renderResult() {
  const node = $("#result");
  node.className = "result " + (state.result && state.result.ok ? "ok" : "error");
  node.textContent = state.result ? state.result.words() : "";
}
const button = (cls, key, onclick, extra = {}) =>
  el("button", { type: "button", class: cls, "data-i18n": key, onclick, ...extra }, t(key));

// Everybody the team editor can pick: the roster's agents, and every user when the admin may
// read the user list as well.
function people() {
  const byId = new Map();
  for (const a of (state.roster && state.roster.agents) || []) {
    byId.set(a.user_id, { id: a.user_id, username: a.username, display_name: a.display_name, role: a.role });
  }
  for (const u of state.users || []) {
    if (!u.disabled) byId.set(u.id, { id: u.id, username: u.username, display_name: u.display_name, role: u.role });
  }
  return [...byId.values()].sort((a, b) =>
    (a.display_name || a.username).localeCompare(b.display_name || b.username, getLang()));
}
function nameOf(id) {
  const p = people().find((x) => x.id === id);
  return p ? p.display_name || p.username : `#${id}`;
}

// --- login ----------------------------------------------------------------------------------

function showLogin(message) {
  state.user = null; state.roster = null; state.users = null; state.roles = null;
  state.targets = null; state.targetRead = null; state.targetConflict = null;
  $("#login-view").hidden = false; $("#admin-view").hidden = true; $("#logout").hidden = true;
  $("#who").textContent = "";
  $("#login-error").textContent = message || "";
}

function showAdmin(user) {
  state.user = user;
  if (!rememberedLang() && user.language) setLang(user.language, { remember: false });
  $("#login-view").hidden = true; $("#admin-view").hidden = false; $("#logout").hidden = false;
  $("#who").textContent = `${user.display_name} (${roleName(user.role)})`;
  const allowed = PANELS.filter((p) => holds(p.permission));
  for (const p of PANELS) $(`#tab-${p.name}`).hidden = !allowed.includes(p);
  $("#no-rights").hidden = allowed.length > 0;
  $("#tabs").hidden = allowed.length === 0;
  if (!allowed.length) { for (const p of PANELS) $(`#panel-${p.name}`).hidden = true; return; }
  const wanted = location.hash.slice(1);
  select((allowed.find((p) => p.name === wanted) || allowed[0]).name, false);
  loadAll();
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
  showAdmin(data.user);
});

$("#logout").addEventListener("click", async () => {
  await api("POST", "/api/logout").catch(() => null);
  showLogin("");
});

bindLangButton($("#lang"));
onLangChange(() => {
  $("#tabs").setAttribute("aria-label", t("sections"));
  if (state.user) $("#who").textContent = `${state.user.display_name} (${roleName(state.user.role)})`;
  renderAll();
  refreshFormTitles();
  renderResult();
});

// --- tabs (arrow keys move between them, as a tab list does) ---------------------------------

function select(name, focus) {
  if (state.panel !== name) showResult(true, null);
  state.panel = name;
  for (const p of PANELS) {
    const tab = $(`#tab-${p.name}`);
    const on = p.name === name;
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;
    $(`#panel-${p.name}`).hidden = !on;
    if (on && focus) tab.focus();
  }
  if (location.hash.slice(1) !== name) history.replaceState(null, "", `#${name}`);
}
for (const tab of $$("#tabs [role=tab]")) tab.addEventListener("click", () => select(tab.dataset.panel, false));
$("#tabs").addEventListener("keydown", (ev) => {
  const tabs = $$("#tabs [role=tab]").filter((x) => !x.hidden);
  const at = tabs.indexOf(document.activeElement);
  if (at < 0) return;
  const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 };
  if (!(ev.key in moves)) return;
  ev.preventDefault();
  const next = tabs[(moves[ev.key] + tabs.length) % tabs.length];
  select(next.dataset.panel, true);
});

// --- loading --------------------------------------------------------------------------------

async function loadRoster() {
  try { state.roster = await api("GET", "/api/roster"); } catch (e) {
    if (e.status === 401) { showLogin(""); return; }
    showResult(false, () => problemText(e));
  }
}
async function loadUsers() {
  state.usersProblem = null;
  try {
    const [users, roles] = await Promise.all([api("GET", "/api/users"), api("GET", "/api/roles")]);
    state.users = users.users; state.roles = roles;
  } catch (e) {
    if (e.status === 401) { showLogin(""); return; }
    state.usersProblem = e;
  }
}
async function loadTargets() {
  state.targetsProblem = null;
  try { state.targets = (await api("GET", "/api/transfer-targets")).targets; } catch (e) {
    if (e.status === 401) { showLogin(""); return; }
    state.targetsProblem = e;
  }
}
async function loadAll() {
  const work = [];
  if (holds("teams:read") || holds("teams:edit")) work.push(loadRoster());
  if (holds("users:admin")) work.push(loadUsers());
  if (holds("transfers:edit")) work.push(loadTargets());
  await Promise.all(work);
  renderAll();
}
function renderAll() {
  if (!state.user) return;
  if (holds("teams:edit")) { renderTeams(); renderCodes(); renderAgents(); }
  if (holds("transfers:edit")) renderTargets();
  if (holds("users:admin")) renderUsers();
}

// --- teams ----------------------------------------------------------------------------------

function renderTeams() {
  const teams = (state.roster && state.roster.teams) || [];
  $("#teams-table tbody").replaceChildren(...teams.map((team) => el("tr", { "data-team-id": String(team.id), "data-name": team.name },
    el("th", { scope: "row" }, team.name),
    el("td", { lang: "zh" }, team.label_zh || "—"),
    el("td", { lang: "en" }, team.label_en || "—"),
    el("td", {}, team.queues.join(", ") || "—"),
    el("td", {}, team.leaders.map(nameOf).join(", ") || "—"),
    el("td", { class: "num" }, String(team.members.length)),
    el("td", { class: "actions" },
      button("edit", "edit", () => editTeam(team), { "aria-label": t("edit_x").replace("{x}", team.name) }),
      " ",
      button("delete danger", "delete", () => deleteTeam(team), { "aria-label": t("delete_x").replace("{x}", team.name) })))));
  $("#teams-table").hidden = teams.length === 0;
  $("#teams-empty").hidden = teams.length > 0;
}

function queueChoices(selected) {
  const names = [...new Set([...((state.roster && state.roster.queues) || []), ...selected])].sort();
  if (!names.length) return [el("p", { class: "muted", "data-i18n": "no_queues" }, t("no_queues"))];
  return names.map((q) => el("label", { class: "check" },
    el("input", { type: "checkbox", value: q, checked: selected.includes(q) ? "" : null }), " ", q));
}

function editTeam(team) {
  const form = $("#team-form");
  form.dataset.mode = team ? "edit" : "new";
  form.dataset.teamName = team ? team.name : "";
  $("#team-id").value = team ? String(team.id) : "";
  $("#team-name").value = team ? team.name : "";
  $("#team-label-zh").value = team ? team.label_zh : "";
  $("#team-label-en").value = team ? team.label_en : "";
  $("#team-queues").replaceChildren(...queueChoices(team ? team.queues : []));
  const members = new Set(team ? team.members : []), leaders = new Set(team ? team.leaders : []);
  $("#people tbody").replaceChildren(...people().map((p) => {
    const who = personName(p);
    return el("tr", { "data-user-id": String(p.id), "data-search": `${p.username} ${p.display_name}`.toLowerCase() },
      el("th", { scope: "row" }, who),
      el("td", { class: "role", "data-role": p.role }, roleName(p.role)),
      el("td", { class: "center" }, el("input", { type: "checkbox", class: "is-member",
        "aria-label": t("member_x").replace("{x}", who), checked: members.has(p.id) ? "" : null })),
      el("td", { class: "center" }, el("input", { type: "checkbox", class: "is-leader",
        "aria-label": t("leader_x").replace("{x}", who), checked: leaders.has(p.id) ? "" : null })));
  }));
  $("#people-filter").value = "";
  $(".form-error", form).textContent = "";
  refreshFormTitles();
  form.hidden = false;
  $("#team-name").focus();
}

function refreshFormTitles() {
  const team = $("#team-form");
  $("#team-form-title").textContent = team.dataset.mode === "edit"
    ? t("edit_team").replace("{x}", team.dataset.teamName) : t("new_team");
  const code = $("#code-form");
  $("#code-form-title").textContent = code.dataset.mode === "edit"
    ? t("edit_code").replace("{x}", code.dataset.code) : t("new_code");
  const agent = $("#agent-form");
  $("#agent-form-title").textContent = t("edit_agent").replace("{x}", agent.dataset.name || "");
  const target = $("#target-form");
  $("#target-form-title").textContent = target.dataset.mode === "edit"
    ? t("edit_target").replace("{x}", target.dataset.slug) : t("new_target");
  fillTierChoices();
  renderTargetConflict();
  renderTargetError();
  renderPinStatus();
  for (const tr of $$("#people tbody tr")) {
    const who = $("th", tr).textContent;
    $(".is-member", tr).setAttribute("aria-label", t("member_x").replace("{x}", who));
    $(".is-leader", tr).setAttribute("aria-label", t("leader_x").replace("{x}", who));
    $("td.role", tr).textContent = roleName($("td.role", tr).dataset.role);
  }
}

$("#people-filter").addEventListener("input", () => {
  const q = $("#people-filter").value.trim().toLowerCase();
  for (const tr of $$("#people tbody tr")) tr.hidden = Boolean(q) && !tr.dataset.search.includes(q);
});
$("#new-team").addEventListener("click", () => editTeam(null));

$("#team-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const ids = (cls) => $$(`#people tbody input.${cls}:checked`).map((i) => Number(i.closest("tr").dataset.userId));
  const leaders = ids("is-leader");
  const body = {
    name: $("#team-name").value.trim(),
    label_zh: $("#team-label-zh").value.trim(),
    label_en: $("#team-label-en").value.trim(),
    queues: $$("#team-queues input:checked").map((i) => i.value),
    leaders,
    members: ids("is-member").filter((id) => !leaders.includes(id)),
  };
  const id = $("#team-id").value;
  try {
    await api(id ? "PUT" : "POST", id ? `/api/teams/${enc(id)}` : "/api/teams", body);
  } catch (e) {
    $(".form-error", form).textContent = problemText(e);
    return;
  }
  form.hidden = true;
  showResult(true, () => t("team_saved").replace("{x}", body.name));
  await loadAll();
  $("#new-team").focus();
});

async function deleteTeam(team) {
  if (!confirm(t("confirm_delete_team").replace("{x}", team.name))) return;
  try {
    await api("DELETE", `/api/teams/${enc(team.id)}`);
  } catch (e) {
    showResult(false, () => problemText(e));
    return;
  }
  showResult(true, () => t("team_deleted").replace("{x}", team.name));
  if ($("#team-id").value === String(team.id)) $("#team-form").hidden = true;
  await loadAll();
  $("#new-team").focus();
}

// --- not-ready codes ------------------------------------------------------------------------

function renderCodes() {
  const codes = (state.roster && state.roster.codes) || [];
  $("#codes-table tbody").replaceChildren(...codes.map((c) => el("tr", { "data-code": c.code, class: c.active ? "" : "inactive" },
    el("th", { scope: "row" }, el("code", {}, c.code)),
    el("td", { lang: "zh" }, c.label_zh),
    el("td", { lang: "en" }, c.label_en),
    el("td", {}, t(c.paid ? "paid" : "unpaid")),
    el("td", {}, limitText(c.limit_seconds)),
    el("td", {}, c.max_agents == null ? t("no_limit") : String(c.max_agents)),
    el("td", {}, t(c.active ? "yes" : "retired")),
    el("td", { class: "actions" },
      button("edit", "edit", () => editCode(c), { "aria-label": t("edit_x").replace("{x}", c.code) })))));
}

function editCode(c) {
  const form = $("#code-form");
  form.dataset.mode = c ? "edit" : "new";
  form.dataset.code = c ? c.code : "";
  $("#code-code").value = c ? c.code : "";
  $("#code-code").readOnly = Boolean(c);
  $("#code-label-zh").value = c ? c.label_zh : "";
  $("#code-label-en").value = c ? c.label_en : "";
  $("#code-limit").value = c && c.limit_seconds != null ? String(Math.round((c.limit_seconds / 60) * 100) / 100) : "";
  $("#code-max").value = c && c.max_agents != null ? String(c.max_agents) : "";
  $("#code-paid").checked = c ? c.paid : true;
  $("#code-active").checked = c ? c.active : true;
  $(".form-error", form).textContent = "";
  refreshFormTitles();
  form.hidden = false;
  (c ? $("#code-label-zh") : $("#code-code")).focus();
}
$("#new-code").addEventListener("click", () => editCode(null));

$("#code-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const code = $("#code-code").value.trim();
  const minutes = $("#code-limit").value.trim();
  const max = $("#code-max").value.trim();
  const body = {
    label_zh: $("#code-label-zh").value.trim(),
    label_en: $("#code-label-en").value.trim(),
    paid: $("#code-paid").checked,
    limit_seconds: minutes ? Math.max(1, Math.round(Number(minutes) * 60)) : null,
    max_agents: max ? Number(max) : null,
    active: $("#code-active").checked,
  };
  if (form.dataset.mode === "new" && ((state.roster && state.roster.codes) || []).some((c) => c.code === code)) {
    $(".form-error", form).textContent = t("code_exists").replace("{x}", code);
    $("#code-code").focus();
    return;
  }
  try {
    await api("PUT", `/api/not-ready-codes/${enc(code)}`, body);
  } catch (e) {
    $(".form-error", form).textContent = problemText(e);
    return;
  }
  form.hidden = true;
  showResult(true, () => t("code_saved").replace("{x}", code));
  await loadAll();
  $("#new-code").focus();
});

// --- agents: number, PIN, skills ------------------------------------------------------------

function skillSummary(skills) {
  const parts = Object.entries(skills || {}).sort().map(([skill, level]) => {
    const [kind, name] = skill.split(/:(.*)/);
    return `${kind === "lang" ? t(`lang_${name}`) : name} ${level}`;
  });
  return parts.join(", ") || "—";
}

function renderAgents() {
  const r = state.roster;
  const agents = [...((r && r.agents) || [])].sort((a, b) =>
    (a.display_name || a.username).localeCompare(b.display_name || b.username, getLang()));
  const teamName = (id) => {
    const team = ((r && r.teams) || []).find((x) => x.id === id);
    return team ? label2(team, team.name) : `#${id}`;
  };
  $("#agents-table tbody").replaceChildren(...agents.map((a) => el("tr", { "data-user-id": String(a.user_id), "data-username": a.username },
    el("th", { scope: "row" }, a.display_name || a.username),
    el("td", {}, a.username),
    el("td", {}, (a.teams || []).map(teamName).join(", ") || "—"),
    el("td", { class: "agent-number" }, a.agent_number || "—"),
    el("td", { class: "skills" }, skillSummary(a.skills)),
    el("td", { class: "actions" },
      button("edit", "edit", () => editAgent(a), { "aria-label": t("edit_x").replace("{x}", a.display_name || a.username) })))));
}

function levelSelect(id, skill, selected) {
  return el("select", { id, "data-skill": skill },
    el("option", { value: "", "data-i18n": "no_skill" }, t("no_skill")),
    ...LEVELS.map((n) => el("option", { value: String(n), "data-i18n": `level_${n}`,
      selected: n === selected ? "" : null }, t(`level_${n}`))));
}

// Whether the agent has a PIN (GET /api/roster says; the PIN itself is never shown).
function renderPinStatus() {
  const node = $("#agent-pin-status");
  const set = $("#agent-form").dataset.pinSet === "true";
  node.className = "pin-status " + (set ? "set" : "unset");
  node.textContent = t(set ? "pin_set" : "pin_unset");
}

function editAgent(a) {
  const form = $("#agent-form");
  form.dataset.name = a.display_name || a.username;
  form.dataset.pinSet = a.pin_set ? "true" : "false";
  $("#agent-id").value = String(a.user_id);
  $("#agent-number").value = a.agent_number || "";
  $("#agent-pin").value = "";
  const skills = a.skills || {};
  const queues = [...new Set([...((state.roster && state.roster.queues) || []),
    ...Object.keys(skills).filter((s) => s.startsWith("queue:")).map((s) => s.slice(6))])].sort();
  const field = (skill, text, key) => {
    const id = `agent-skill-${skill.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
    return el("div", { class: "skill" },
      el("label", { for: id, "data-i18n": key }, text), levelSelect(id, skill, skills[skill]));
  };
  $("#agent-queue-skills").replaceChildren(...(queues.length
    ? queues.map((q) => field(`queue:${q}`, q, null))
    : [el("p", { class: "muted", "data-i18n": "no_queues" }, t("no_queues"))]));
  $("#agent-lang-skills").replaceChildren(...LANGS.map((l) => field(`lang:${l}`, t(`lang_${l}`), `lang_${l}`)));
  $(".form-error", form).textContent = "";
  refreshFormTitles();
  form.hidden = false;
  $("#agent-number").focus();
}

$("#agent-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const id = $("#agent-id").value;
  const number = $("#agent-number").value.trim();
  const pin = $("#agent-pin").value.trim();
  const skills = {};
  for (const s of $$("select[data-skill]", form)) if (s.value) skills[s.dataset.skill] = Number(s.value);
  const done = []; // functions: the words follow the language
  try {
    await api("PUT", `/api/agents/${enc(id)}/profile`, { agent_number: number || null, pin: pin || null });
    done.push(() => t("profile_saved"));
    const answer = await api("PUT", `/api/agents/${enc(id)}/skills`, { skills });
    done.push(() => t("skills_saved"));
    if ((answer.applied || []).length) done.push(() => `${t("applied")}: ${answer.applied.join("; ")}`);
    if ((answer.failed || []).length) done.push(() => `${t("not_applied")}: ${answer.failed.join("; ")}`);
  } catch (e) {
    $(".form-error", form).textContent = [...done.map((f) => f()), problemText(e)].join(" · ");
    return;
  }
  $("#agent-pin").value = "";
  form.hidden = true;
  const name = form.dataset.name;
  showResult(true, () => `${name}: ${done.map((f) => f()).join(" · ")}`);
  await loadAll();
  $(`#agents-table tr[data-user-id="${CSS.escape(id)}"] button.edit`)?.focus();
});

// --- transfer directory ---------------------------------------------------------------------

const TIERS = [1, 2, 3, 4, 5, 6, 7, 8, 9];
// What a PUT replaces (all but the slug) and the version it was read at.
const TARGET_FIELDS = ["label_zh", "label_en", "tier", "kind", "pbx", "queue", "interfaces",
  "number", "trunk_context", "escalation", "enabled"];
// The input of each field: a 400 incomplete-target names the one to fix.
const TARGET_INPUTS = {
  slug: "#target-slug", label_zh: "#target-label-zh", label_en: "#target-label-en",
  tier: "#target-tier", kind: "#target-kind", pbx: "#target-pbx", queue: "#target-queue",
  interfaces: "#target-interfaces", number: "#target-number", trunk_context: "#target-trunk",
};
// The words naming each field (the form's labels and the list's headings).
const TARGET_FIELD_KEYS = {
  label_zh: "label_zh", label_en: "label_en", tier: "tier", kind: "kind", pbx: "pbx",
  queue: "queue", interfaces: "interfaces", number: "number", trunk_context: "trunk_context",
  escalation: "escalation", enabled: "target_status",
};

function tierName(n) {
  const key = `tier_${n}`;
  const text = t(key);
  return text === key ? t("tier_n").replace("{n}", n) : text;
}
function destination(x) {
  if (x.kind === "queue") return t("dest_queue").replace("{x}", x.queue || "?");
  if (x.kind === "interfaces") return (x.interfaces || []).join(", ") || "—";
  return t("dest_external").replace("{n}", x.number || "?").replace("{c}", x.trunk_context || "?");
}
function describeField(name, value) {
  switch (name) {
    case "tier": return tierName(value);
    case "kind": return t(`kind_${value}`);
    case "pbx": return value || t("any_pbx");
    case "interfaces": return (value || []).join(", ") || "—";
    case "escalation": return t(value ? "bool_yes" : "bool_no");
    case "enabled": return t(value ? "target_enabled" : "target_disabled");
    default: return value == null || value === "" ? "—" : String(value);
  }
}
const sameValue = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
// The fields whose value differs between two versions of a target.
const changedFields = (a, b) => TARGET_FIELDS.filter((f) => !sameValue(a && a[f], b && b[f]));
const fieldsOf = (x) => Object.fromEntries(TARGET_FIELDS.map((f) => [f, x[f]]));

function targetRow(x) {
  const name = label2(x, x.slug);
  return el("tr", { "data-slug": x.slug, class: x.enabled ? "" : "inactive" },
    el("th", { scope: "row", class: "target-label", lang: getLang() }, name),
    el("td", {}, el("code", {}, x.slug)),
    el("td", { class: "kind" }, t(`kind_${x.kind}`)),
    el("td", { class: "destination" }, destination(x)),
    el("td", { class: "pbx" }, x.pbx || t("any_pbx")),
    el("td", { class: "escalation" }, x.escalation
      ? el("span", { class: "badge escalation" }, t("escalation_mark")) : "—"),
    el("td", { class: "state" }, el("span", { class: `badge ${x.enabled ? "on" : "off"}` },
      t(x.enabled ? "target_enabled" : "target_disabled"))),
    el("td", { class: "actions" },
      button("edit", "edit", () => editTarget(x), { "aria-label": t("edit_x").replace("{x}", name) }),
      " ",
      button("toggle", x.enabled ? "disable" : "enable", () => toggleTarget(x),
        { "aria-label": t(x.enabled ? "disable_x" : "enable_x").replace("{x}", name) }),
      " ",
      button("delete danger", "delete", () => deleteTarget(x), { "aria-label": t("delete_x").replace("{x}", name) })));
}

// One table, one row group per tier (first line first), each headed by its tier.
function renderTargets() {
  const targets = state.targets || [];
  const problem = state.targetsProblem;
  $("#targets-error").textContent = problem ? problemText(problem) : "";
  const table = $("#targets-table");
  for (const body of $$("tbody", table)) body.remove();
  const tiers = [...new Set(targets.map((x) => x.tier))].sort((a, b) => a - b);
  table.append(...tiers.map((tier) => {
    const rows = targets.filter((x) => x.tier === tier);
    return el("tbody", { "data-tier": String(tier) },
      el("tr", { class: "tier-head" },
        el("th", { scope: "rowgroup", colspan: "8", id: `tier-${tier}` }, tierName(tier),
          el("span", { class: "muted" }, ` · ${t(rows.length === 1 ? "one_target" : "n_targets").replace("{n}", rows.length)}`))),
      ...rows.map(targetRow));
  }));
  table.hidden = targets.length === 0;
  $("#targets-empty").hidden = targets.length > 0 || state.targets === null;
  const queues = [...new Set((state.roster && state.roster.queues) || [])].sort();
  $("#target-queue-names").replaceChildren(...queues.map((q) => el("option", { value: q })));
}

function fillTierChoices() {
  const select = $("#target-tier");
  const value = select.value || "2";
  select.replaceChildren(...TIERS.map((n) => el("option", { value: String(n) }, tierName(n))));
  select.value = value;
}

// Only the fields of the chosen kind are shown, asked for and sent.
function showKindFields() {
  const kind = $("#target-kind").value;
  for (const field of $$("#target-form [data-kind]")) {
    const on = field.dataset.kind === kind;
    field.hidden = !on;
    for (const input of $$("input", field)) { input.disabled = !on; input.required = on; }
  }
}
$("#target-kind").addEventListener("change", showKindFields);

function readTargetForm() {
  const text = (id) => $(id).value.trim();
  const kind = $("#target-kind").value;
  return {
    label_zh: text("#target-label-zh"),
    label_en: text("#target-label-en"),
    tier: Number($("#target-tier").value),
    kind,
    pbx: text("#target-pbx") || null,
    queue: kind === "queue" ? text("#target-queue") || null : null,
    interfaces: kind === "interfaces" ? text("#target-interfaces").split(/[\s,，;；]+/).filter(Boolean) : [],
    number: kind === "external" ? text("#target-number") || null : null,
    trunk_context: kind === "external" ? text("#target-trunk") || null : null,
    escalation: $("#target-escalation").checked,
    enabled: $("#target-enabled").checked,
  };
}

function writeTargetForm(x) {
  $("#target-label-zh").value = x ? x.label_zh : "";
  $("#target-label-en").value = x ? x.label_en : "";
  $("#target-tier").value = String(x ? x.tier : 2);
  $("#target-kind").value = x ? x.kind : "queue";
  $("#target-pbx").value = (x && x.pbx) || "";
  $("#target-queue").value = (x && x.queue) || "";
  $("#target-interfaces").value = ((x && x.interfaces) || []).join(", ");
  $("#target-number").value = (x && x.number) || "";
  $("#target-trunk").value = (x && x.trunk_context) || "";
  $("#target-escalation").checked = x ? x.escalation : false;
  $("#target-enabled").checked = x ? x.enabled : true;
  showKindFields();
}

function setTargetError(words) {
  state.targetError = words;
  renderTargetError();
}
function renderTargetError() {
  $("#target-form .form-error").textContent = state.targetError ? state.targetError() : "";
}
function clearTargetErrors() {
  setTargetError(null);
  for (const id of Object.values(TARGET_INPUTS)) $(id).removeAttribute("aria-invalid");
}
// The field a refusal names is marked and focused, so it can be put right at once.
function markTargetField(e) {
  const field = e.error === "target-exists" ? "slug" : e.body && e.body.field;
  const node = field && TARGET_INPUTS[field] ? $(TARGET_INPUTS[field]) : null;
  if (!node || node.disabled) return;
  node.setAttribute("aria-invalid", "true");
  node.focus();
}

function editTarget(x) {
  const form = $("#target-form");
  form.dataset.mode = x ? "edit" : "new";
  form.dataset.slug = x ? x.slug : "";
  form.dataset.version = x ? String(x.version) : "";
  state.targetRead = x;
  state.targetConflict = null;
  $("#target-slug").value = x ? x.slug : "";
  $("#target-slug").readOnly = Boolean(x);
  writeTargetForm(x);
  clearTargetErrors();
  form.hidden = false;
  refreshFormTitles();
  (x ? $("#target-label-zh") : $("#target-slug")).focus();
}
$("#new-target").addEventListener("click", () => editTarget(null));

// Another admin saved the target since the editor read it: the form now holds what they
// stored (and its version); the admin's own edits are listed, to be put back with one button.
function staleTarget(theirs, mine) {
  const read = state.targetRead;
  state.targetConflict = { read, theirs, mine };
  state.targetRead = theirs;
  $("#target-form").dataset.version = String(theirs.version);
  writeTargetForm(theirs);
  renderTargetConflict();
  $("#target-conflict .conflict-head").focus();
}

function renderTargetConflict() {
  const box = $("#target-conflict");
  const c = state.targetConflict;
  if (!c || $("#target-form").hidden) { box.hidden = true; box.replaceChildren(); return; }
  const theirs = changedFields(c.read, c.theirs);
  const mine = changedFields(c.read, c.mine);
  const item = (f, text) => el("li", { "data-field": f },
    el("span", { class: "field-name" }, t(TARGET_FIELD_KEYS[f])), t("colon"), text);
  box.hidden = false;
  box.replaceChildren(
    el("p", { class: "conflict-head", tabindex: "-1" }, el("strong", {},
      t("target_stale").replace("{x}", c.theirs.slug).replace("{v}", c.theirs.version))),
    el("p", {}, t(theirs.length ? "their_changes" : "their_no_changes")),
    theirs.length ? el("ul", { class: "changes theirs" }, ...theirs.map((f) =>
      item(f, `${describeField(f, c.read && c.read[f])} → ${describeField(f, c.theirs[f])}`))) : "",
    mine.length ? el("p", {}, t("your_values")) : "",
    mine.length ? el("ul", { class: "changes mine" }, ...mine.map((f) => item(f, describeField(f, c.mine[f])))) : "",
    el("div", { class: "buttons" },
      mine.length ? el("button", { type: "button", id: "target-reapply", onclick: reapplyTarget }, t("reapply")) : "",
      el("button", { type: "button", id: "target-keep", onclick: keepTheirs }, t("keep_theirs"))));
}

// The admin's own edits go back on top of the stored target; nothing is saved before Save.
function reapplyTarget() {
  const c = state.targetConflict;
  if (!c) return;
  const merged = { ...c.theirs };
  for (const f of changedFields(c.read, c.mine)) merged[f] = c.mine[f];
  writeTargetForm(merged);
  state.targetConflict = null;
  renderTargetConflict();
  showResult(true, () => t("reapplied"));
  $("#target-save").focus();
}
function keepTheirs() {
  state.targetConflict = null;
  renderTargetConflict();
  $("#target-label-zh").focus();
}

$("#target-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  clearTargetErrors();
  const body = readTargetForm();
  const editing = form.dataset.mode === "edit";
  const slug = editing ? form.dataset.slug : $("#target-slug").value.trim();
  let saved;
  try {
    saved = editing
      ? await api("PUT", `/api/transfer-targets/${enc(slug)}`, { ...body, version: Number(form.dataset.version) })
      : await api("POST", "/api/transfer-targets", { slug, ...body });
  } catch (e) {
    if (e.status === 401) { showLogin(""); return; }
    showResult(true, null); // an earlier "saved" would mislead: the form says what went wrong
    if (e.status === 409 && e.error === "stale-target" && e.body && e.body.target) {
      staleTarget(e.body.target, body);
    } else {
      setTargetError(() => problemText(e));
      markTargetField(e);
    }
    if (e.error === "stale-target" || e.error === "no-such-target") { await loadTargets(); renderTargets(); }
    return;
  }
  form.hidden = true;
  state.targetRead = null; state.targetConflict = null;
  renderTargetConflict();
  showResult(true, () => t(editing ? "target_saved" : "target_added").replace("{x}", label2(saved, saved.slug)));
  await loadAll();
  ($(`#targets-table tr[data-slug="${CSS.escape(slug)}"] button.edit`) || $("#new-target")).focus();
});

async function toggleTarget(x) {
  const name = label2(x, x.slug);
  try {
    await api("PUT", `/api/transfer-targets/${enc(x.slug)}`, { ...fieldsOf(x), enabled: !x.enabled, version: x.version });
  } catch (e) {
    if (e.status === 401) { showLogin(""); return; }
    showResult(false, () => (e.error === "stale-target" ? t("toggle_stale").replace("{x}", name) : problemText(e)));
    await loadAll();
    return;
  }
  showResult(true, () => t(x.enabled ? "target_disabled_x" : "target_enabled_x").replace("{x}", name));
  await loadAll();
  $(`#targets-table tr[data-slug="${CSS.escape(x.slug)}"] button.toggle`)?.focus();
}

async function deleteTarget(x) {
  const name = label2(x, x.slug);
  if (!confirm(t("confirm_delete_target").replace("{x}", name).replace("{s}", x.slug))) return;
  try {
    await api("DELETE", `/api/transfer-targets/${enc(x.slug)}`);
  } catch (e) {
    if (e.status === 401) { showLogin(""); return; }
    showResult(false, () => problemText(e));
    await loadAll();
    return;
  }
  showResult(true, () => t("target_deleted").replace("{x}", name));
  const form = $("#target-form");
  if (form.dataset.mode === "edit" && form.dataset.slug === x.slug) {
    form.hidden = true;
    state.targetConflict = null;
    renderTargetConflict();
  }
  await loadAll();
  $("#new-target").focus();
}

fillTierChoices();
showKindFields();

// --- users and roles ------------------------------------------------------------------------

function renderUsers() {
  const problem = state.usersProblem;
  $("#users-error").textContent = problem
    ? (problem.status === 404 ? t("users_unavailable") : problemText(problem)) : "";
  const roles = (state.roles && state.roles.roles) || [];
  const roleNames = roles.map((r) => r.role);
  $("#users-table tbody").replaceChildren(...(state.users || []).map((u) => {
    // Nobody changes their own role (the API refuses it too): another administrator does.
    const own = state.user && u.id === state.user.id;
    const choices = [...new Set([...roleNames, u.role])];
    let chosen = state.pendingRoles.get(u.id);
    if (own || chosen === u.role || !choices.includes(chosen)) {
      state.pendingRoles.delete(u.id);
      chosen = u.role;
    }
    const choice = el("select", { class: "role", "aria-label": t("role_of").replace("{x}", u.username),
      disabled: own ? "" : null, title: own ? t("own_role") : null },
      ...choices.map((r) => el("option", { value: r, selected: r === chosen ? "" : null }, roleName(r))));
    const apply = button("apply-role", "change_role", () => changeRole(u, choice.value),
      { disabled: chosen === u.role ? "" : null, "aria-label": t("change_role_of").replace("{x}", u.username) });
    choice.addEventListener("change", () => {
      // Kept even when it equals the role as this table last read it: a reload may be on its
      // way with another role (drawing the table again drops a choice equal to the role).
      state.pendingRoles.set(u.id, choice.value);
      apply.disabled = choice.value === u.role;
    });
    return el("tr", { "data-user-id": String(u.id), "data-username": u.username, class: u.disabled ? "inactive" : "" },
      el("th", { scope: "row" }, u.username),
      el("td", {}, u.display_name),
      el("td", { class: "actions" }, choice, " ", apply),
      el("td", {}, u.language === "en" ? "English" : "中文"),
      el("td", {}, (u.interfaces || []).join(", ") || "—"),
      el("td", {}, t(u.disabled ? "disabled" : "enabled")));
  }));
  $("#roles-table tbody").replaceChildren(...roles.map((r) => el("tr", {},
    el("th", { scope: "row" }, roleName(r.role), el("br"), el("code", { class: "muted" }, r.role)),
    el("td", { class: "perms" }, ...r.permissions.map((p) => el("code", { class: "perm" }, p))))));
}

async function changeRole(u, role) {
  if (!confirm(t("confirm_role").replace("{x}", u.username).replace("{from}", roleName(u.role)).replace("{to}", roleName(role)))) return;
  try {
    await api("PUT", `/api/users/${enc(u.id)}/role`, { role });
    state.pendingRoles.delete(u.id);
  } catch (e) {
    showResult(false, () => problemText(e));
    return;
  }
  await loadAll();
  // Said once the table shows the new role, so the next choice is made in the new table.
  showResult(true, () => t("role_changed").replace("{x}", u.username).replace("{to}", roleName(role)));
  $(`#users-table tr[data-user-id="${CSS.escape(String(u.id))}"] select.role`)?.focus();
}

// --- cancel buttons: close the editor, back to the button that opened it ---------------------

for (const form of $$("form.editor")) {
  $(".cancel", form).addEventListener("click", () => { form.hidden = true; });
  form.addEventListener("keydown", (ev) => { if (ev.key === "Escape") form.hidden = true; });
}

// --- start ----------------------------------------------------------------------------------

async function start() {
  applyI18n();
  $("#tabs").setAttribute("aria-label", t("sections"));
  let user;
  try {
    user = (await api("GET", "/api/me")).user;
  } catch (_) {
    showLogin("");
    return;
  }
  showAdmin(user);
}
start();
