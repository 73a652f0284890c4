// The rota page: every shift as a table (times, start days, teams, people), the "now" panel
// (on shift, ending soon, next within 12 h; GET /api/shifts/now, in the caller's scope), and
// for supervisors and admins a form to add, edit (with the version read: a stale edit is
// refused and the form shows the stored shift) and delete shifts. Shift times are the
// contact centre's wall-clock times, and every instant the page shows (the "now" panel) is
// rendered in the centre's zone (the API's `timezone`), never the browser's. An edit keeps
// the members the pick-lists do not offer (a disabled person, a deleted team): they are shown
// greyed and checked, and sent back unless unticked. Plain JS (an ES module), no build step,
// no inline script or style; rendering only through textContent/createElement.
import {
  $, $$, el, api, t, getLang, setLang, rememberedLang, applyI18n, onLangChange, bindLangButton,
} from "/static/common/common.js";
import { fill, applyLabels } from "./i18n.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const NOW_EVERY_MS = 60_000;

const state = {
  user: null,
  rota: null, // GET /api/shifts
  now: null, // GET /api/shifts/now
  editing: null, // the shift being edited (null: a new one)
  message: null, // {kind: "ok" | "error", text: string | () => string}
  timer: null,
};

const holds = (user, permission) => Boolean(user && (user.permissions || []).includes(permission));
const mayEdit = () => Boolean(state.rota && state.rota.may_edit);

// --- login ----------------------------------------------------------------------------------

function showLogin(message) {
  state.user = null;
  state.message = null;
  if (state.timer) { clearInterval(state.timer); state.timer = null; }
  $("#login-view").hidden = false; $("#shifts-view").hidden = true; $("#logout").hidden = true;
  for (const id of ["#agent-link", "#wallboard-link", "#reports-link"]) $(id).hidden = true;
  $("#who").textContent = "";
  $("#login-error").textContent = message || "";
}

async function showShifts(user) {
  state.user = user;
  if (!rememberedLang() && user.language) setLang(user.language, { remember: false });
  $("#login-view").hidden = true; $("#shifts-view").hidden = false; $("#logout").hidden = false;
  $("#agent-link").hidden = !holds(user, "agent:self");
  $("#wallboard-link").hidden = !holds(user, "live:feed");
  $("#reports-link").hidden = !holds(user, "stats:read");
  renderWho();
  await Promise.all([loadRota(), loadNow()]);
  if (!state.timer) state.timer = setInterval(loadNow, NOW_EVERY_MS);
}

function renderWho() {
  const u = state.user;
  $("#who").textContent = u ? `${u.display_name || u.username} (${t("role_" + u.role)})` : "";
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
  showShifts(user);
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
  showShifts(data.user);
});

$("#logout").addEventListener("click", async () => {
  await api("POST", "/api/logout").catch(() => null);
  showLogin("");
});

bindLangButton($("#lang"));
onLangChange(() => {
  applyLabels();
  renderWho();
  renderRota();
  renderNow();
  renderFormTexts();
  renderMessage();
});

// --- formatting -----------------------------------------------------------------------------

// The centre's zone, as either answer gives it (null until one has come: no time is drawn
// in the browser's own zone meanwhile).
const zone = () => (state.rota && state.rota.timezone) || (state.now && state.now.timezone) || null;
const locale = () => (getLang() === "zh" ? "zh-CN" : "en-GB");

function clockOf(iso, withDay) {
  const options = { timeZone: zone(), hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (withDay) options.weekday = "short";
  return new Intl.DateTimeFormat(locale(), options).format(new Date(iso));
}

const daysText = (days) => days.map((d) => t("d_" + d)).join(t("days_sep"));
const teamName = (team) => (getLang() === "zh" ? team.label_zh : team.label_en) || team.name;

function problemText(e) {
  if (e.status === 409 && e.error === "stale-shift") return t("err_stale");
  const key = "err_" + e.error;
  const known = t(key);
  return known !== key ? known : t("server_says") + e.message;
}

// The last message, kept as a text key (or a function giving the text) so that a language
// switch says it again in the other language.
function show(kind, text) {
  state.message = text ? { kind, text } : null;
  renderMessage();
}
function renderMessage() {
  const m = state.message;
  const text = m ? (typeof m.text === "function" ? m.text() : m.text) : "";
  $("#result").textContent = m && m.kind === "ok" ? text : "";
  $("#error").textContent = m && m.kind === "error" ? text : "";
}
const say = (text) => show("ok", text);
const fail = (text) => show("error", text);

// --- the now panel --------------------------------------------------------------------------

async function loadNow() {
  if (!state.user) return;
  try {
    state.now = await api("GET", "/api/shifts/now");
  } catch (e) {
    if (e.status === 401) { showLogin(""); return; }
    fail(() => problemText(e));
    return;
  }
  renderNow();
}

function personItem(span, timeText) {
  return el("li", { "data-user": span.user_id, "data-shift": span.shift },
    el("span", { class: "name" }, span.name), " ",
    el("span", { class: "shift-label" }, span.label), " ",
    el("span", { class: "when muted" }, timeText));
}

function renderList(listId, noneId, spans, timeOf) {
  const list = $(listId);
  list.replaceChildren(...spans.map((s) => personItem(s, timeOf(s))));
  $(noneId).hidden = spans.length > 0;
}

function renderNow() {
  $("#soon-title").textContent = fill("ending_soon", { m: state.rota ? state.rota.ending_soon_minutes : 30 });
  const now = state.now;
  if (!now || !zone()) return;
  $("#now-at").textContent = fill("as_of", { t: clockOf(now.at, false) });
  renderList("#on-shift", "#on-none", now.on_shift, (s) => fill("until", { t: clockOf(s.end, false) }));
  renderList("#ending-soon", "#soon-none", now.ending_soon, (s) => fill("until", { t: clockOf(s.end, false) }));
  renderList("#next", "#next-none", now.next, (s) => fill("from", { t: clockOf(s.start, true) }));
}

$("#now-refresh").addEventListener("click", loadNow);

// --- the rota -------------------------------------------------------------------------------

async function loadRota() {
  try {
    state.rota = await api("GET", "/api/shifts");
  } catch (e) {
    if (e.status === 401) { showLogin(""); return; }
    fail(() => problemText(e));
    return;
  }
  renderRota();
  renderChoices();
  // The panel's clock is the rota's zone: drawn again once the zone is known.
  renderNow();
}

function renderRota() {
  const rota = state.rota;
  if (!rota) return;
  const edit = mayEdit();
  $("#new-shift").hidden = !edit;
  $("#zone").textContent = fill("zone", { z: rota.timezone });
  $$(".edit-col").forEach((n) => { n.hidden = !edit; });
  const rows = rota.shifts.map((s) => {
    const time = el("td", { class: "time" }, `${s.start}–${s.end}`);
    if (s.overnight) time.append(" ", el("span", { class: "muted small" }, `(${t("next_day")})`));
    const members = s.members.map((m) => m.name).join(t("list_sep"));
    const others = s.others || 0;
    // Kept on the shift but on no shift while disabled (editors see them, greyed).
    const disabled = s.users.filter((u) => u.disabled);
    const cell = el("td", { class: "members" },
      el("span", { class: "count muted small" }, fill("people_count", { n: s.members.length + others })), " ",
      members);
    if (others) cell.append(" ", el("span", { class: "others muted small" }, fill("others", { n: others })));
    for (const u of disabled) {
      cell.append(" ", el("span", { class: "gone small", "data-user": u.id }, fill("user_disabled", { n: u.name })));
    }
    const row = el("tr", { "data-name": s.name },
      el("th", { scope: "row" }, s.label, el("br"), el("span", { class: "muted small key" }, s.name)),
      time,
      el("td", { class: "days" }, daysText(s.days)),
      el("td", { class: "teams" }, s.teams.map(teamName).join(t("list_sep"))),
      cell);
    if (edit) {
      row.append(el("td", { class: "actions" },
        el("button", { type: "button", class: "edit", "aria-label": fill("edit_of", { n: s.label }),
          onclick: () => openForm(s) }, t("edit")), " ",
        el("button", { type: "button", class: "delete", "aria-label": fill("delete_of", { n: s.label }),
          onclick: () => remove(s) }, t("delete"))));
    }
    return row;
  });
  $("#rota tbody").replaceChildren(...rows);
  $("#rota-empty").hidden = rota.shifts.length > 0;
  if (!edit && !state.message) say(() => t("read_only"));
}

// --- the form (supervisors and admins) ------------------------------------------------------

function box(name, value, text, id, gone = false) {
  return el("label", { class: gone ? "check gone" : "check", for: id },
    el("input", { type: "checkbox", id, name, value: String(value) }), " ", el("span", {}, text));
}

// What the shift being edited holds that the pick-lists do not offer: disabled people and
// deleted teams. They stay on it unless unticked (the API keeps what is stored already).
function keptExtras() {
  const s = state.editing;
  const rota = state.rota;
  if (!s || !rota) return { users: [], teams: [] };
  const people = new Set(rota.people.map((p) => p.id));
  const teams = new Set(rota.teams.map((team) => team.id));
  return {
    users: s.users.filter((u) => !people.has(u.id)),
    teams: s.teams.filter((team) => !teams.has(team.id)),
  };
}

function renderChoices() {
  const rota = state.rota;
  if (!rota || !mayEdit()) return;
  const checked = readChecks();
  const legend = (id) => $(`${id} legend`);
  $("#shift-days").replaceChildren(legend("#shift-days"),
    ...DAYS.map((d) => box("day", d, t("d_" + d), `day-${d}`)));
  const extra = keptExtras();
  $("#shift-teams").replaceChildren(legend("#shift-teams"),
    ...rota.teams.map((team) => box("team", team.id, teamName(team), `team-${team.id}`)),
    ...extra.teams.map((team) => box("team", team.id, fill("team_gone", { n: teamName(team) }), `team-${team.id}`, true)));
  $("#shift-users").replaceChildren(legend("#shift-users"),
    ...rota.people.map((p) => box("user", p.id, p.name, `user-${p.id}`)),
    ...extra.users.map((p) => box("user", p.id, fill("user_disabled", { n: p.name }), `user-${p.id}`, true)));
  writeChecks(checked);
}

function readChecks() {
  const pick = (name) => $$(`#shift-form input[name=${name}]:checked`).map((n) => n.value);
  return { day: pick("day"), team: pick("team"), user: pick("user") };
}

function writeChecks(values) {
  for (const [name, picked] of Object.entries(values)) {
    for (const input of $$(`#shift-form input[name=${name}]`)) input.checked = picked.includes(input.value);
  }
}

function renderFormTexts() {
  renderChoices();
  const s = state.editing;
  $("#form-title").textContent = s ? fill("form_edit", { n: s.label }) : t("form_new");
}

function openForm(shift) {
  state.editing = shift || null;
  renderChoices();
  const s = shift || { name: "", label: "", start: "", end: "", days: [], team_ids: [], user_ids: [] };
  $("#shift-name").value = s.name;
  $("#shift-name").disabled = Boolean(shift);
  $("#shift-label").value = s.label;
  $("#shift-start").value = s.start;
  $("#shift-end").value = s.end;
  writeChecks({ day: s.days, team: s.team_ids.map(String), user: s.user_ids.map(String) });
  renderFormTexts();
  $("#shift-form").hidden = false;
  (shift ? $("#shift-label") : $("#shift-name")).focus();
}

function closeForm() {
  state.editing = null;
  $("#shift-form").hidden = true;
}

$("#new-shift").addEventListener("click", () => { show("ok", null); openForm(null); });
$("#shift-cancel").addEventListener("click", () => { closeForm(); $("#new-shift").focus(); });
$("#shift-form").addEventListener("keydown", (ev) => { if (ev.key === "Escape") closeForm(); });

$("#shift-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const checks = readChecks();
  const body = {
    label: $("#shift-label").value.trim(),
    start: $("#shift-start").value,
    end: $("#shift-end").value,
    days: checks.day,
    team_ids: checks.team.map(Number),
    user_ids: checks.user.map(Number),
  };
  const name = state.editing ? state.editing.name : $("#shift-name").value.trim();
  if (!name || !body.label || !body.start || !body.end) { fail(() => t("need_fields")); return; }
  if (!body.days.length) { fail(() => t("need_days")); return; }
  if (body.start === body.end) { fail(() => t("same_times")); return; }
  let saved;
  try {
    if (state.editing) {
      saved = await api("PUT", `/api/shifts/${encodeURIComponent(name)}`, { ...body, version: state.editing.version });
    } else {
      saved = await api("POST", "/api/shifts", { name, ...body });
    }
  } catch (e) {
    fail(() => problemText(e));
    if (e.status === 409 && e.body && e.body.shift) openForm(e.body.shift);
    if (e.status === 401) showLogin("");
    return;
  }
  const wasNew = !state.editing;
  closeForm();
  say(() => fill(wasNew ? "saved_new" : "saved", { n: saved.label }));
  await Promise.all([loadRota(), loadNow()]);
  const row = $(`#rota tr[data-name="${CSS.escape(saved.name)}"] th`);
  if (row) { row.tabIndex = -1; row.focus(); }
});

async function remove(shift) {
  if (!window.confirm(fill("confirm_delete", { n: shift.label }))) return;
  try {
    await api("DELETE", `/api/shifts/${encodeURIComponent(shift.name)}`);
  } catch (e) {
    fail(() => problemText(e));
    return;
  }
  if (state.editing && state.editing.name === shift.name) closeForm();
  say(() => fill("deleted", { n: shift.label }));
  await Promise.all([loadRota(), loadNow()]);
}

start();
