// The wallboard's queue-settings editor (queues:configure): each queue's settings as the
// service manages them (GET /api/queue-settings), changed live (PUT, applied and confirmed by
// Asterisk before the answer; a stale version is a 409 that carries the current one), given
// back to queues.conf (DELETE); and the announcements library (upload a recording, draft one
// from text, preview, delete). Plain JS (an ES module), no build step; wallboard.js calls
// the exported functions.
import { $, $$, el, api, ApiError, t, getLang } from "/static/common/common.js";

const enc = encodeURIComponent;

const qs = {
  allowed: false,
  data: null,            // GET /api/queue-settings
  announcements: [],     // GET /api/announcements
  open: null,            // the queue in the form: {pbx, queue, version, settings} as loaded
  saving: false,
  conflict: null,        // {theirs: Q, before: S, mine: {field: value}} after a 409 / a newer version
  newer: null,           // a newer version saved by someone else while the form has edits: Q
  result: null,          // {ok, key, args, detail}: the last result, re-worded on a language switch
  annResult: null,
  loadTimer: null,
  pollTimer: null,
  formBuilt: false,
  notice: null,          // {key, args, changes, adopt}: what the form says of someone else's version
  previousSettings: null,
};

// --- the fields of a queue's settings (callcenter/queueconf/spec.py QueueSpec) --------------

// kind: "choice" (a list of words), "number" (whole seconds or a count), "bool" (yes/no),
// "digit" (an exit key), "announcement" (the library), "music" (the PBX's classes),
// "queue" (another queue of the same PBX). `live`: the name in Q.live when Asterisk reports it.
const GROUPS = [
  ["qs_g_ringing", [
    { name: "strategy", kind: "choice", live: "strategy" },
    { name: "timeout", kind: "number", min: 1, max: 600 },
    { name: "retry", kind: "number", min: 1, max: 600 },
    { name: "wrapuptime", kind: "number", min: 0, max: 3600 },
    { name: "weight", kind: "number", min: 0, max: 1000, live: "weight" },
    { name: "maxlen", kind: "number", min: 0, max: 100000, live: "max" },
    { name: "servicelevel", kind: "number", min: 0, max: 3600, live: "servicelevel" },
  ]],
  ["qs_g_joining", [
    { name: "joinempty", kind: "bool" },
    { name: "leavewhenempty", kind: "bool" },
  ]],
  ["qs_g_announce", [
    { name: "announce_position", kind: "bool" },
    { name: "announce_holdtime", kind: "bool" },
    { name: "announce_frequency", kind: "number", min: 0, max: 3600 },
    { name: "periodic_announce", kind: "announcement" },
    { name: "periodic_announce_frequency", kind: "number", min: 0, max: 3600 },
    { name: "musicclass", kind: "music" },
  ]],
  ["qs_g_exits", [
    { name: "exit_voicemail_key", kind: "digit" },
    { name: "exit_callback_key", kind: "digit" },
    { name: "exit_operator_key", kind: "digit" },
    { name: "operator_queue", kind: "queue" },
  ]],
];
const FIELDS = GROUPS.flatMap(([, fields]) => fields);
const FIELD = Object.fromEntries(FIELDS.map((f) => [f.name, f]));
// Which field an error of the API points at.
const ERROR_FIELD = {
  "unknown-music-class": "musicclass", "no-such-announcement": "periodic_announce",
  "no-mailbox": "exit_voicemail_key", "no-such-operator-queue": "operator_queue",
  "needs-restart": "strategy", "strategy-fixed-in-queues-conf": "strategy",
};

const control = (name) => document.getElementById(`qs-f-${name}`);
const words = (key) => el("span", { "data-i18n": key }, t(key));
const fill = (key, args = {}) =>
  Object.entries(args).reduce((text, [k, v]) => text.split(`{${k}}`).join(String(v)), t(key));
const sameValue = (a, b) => (a ?? null) === (b ?? null);
const locale = () => (getLang() === "zh" ? "zh-CN" : "en-GB");
function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso
    : d.toLocaleString(locale(), { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// --- the entry points (wallboard.js) --------------------------------------------------------

/** Shows the editor to a user who holds queues:configure, hides it from anyone else. */
export function showQueueSettings(allowed) {
  qs.allowed = allowed;
  $("#queue-settings-section").hidden = !allowed;
  $("#qs-link").hidden = !allowed;
  if (!allowed) { hideQueueSettings(); return; }
  if (!qs.formBuilt) buildForm();
  loadAll();
  if (!qs.pollTimer) {
    // Drift (a hand edit of queues.conf, a PBX restart) shows without a feed message.
    qs.pollTimer = setInterval(() => { if (qs.allowed && !document.hidden) loadSettings(); }, 60000);
  }
}

/** After a logout: nothing of the previous user's stays on the page. */
export function hideQueueSettings() {
  qs.allowed = false;
  $("#queue-settings-section").hidden = true;
  $("#qs-link").hidden = true;
  if (qs.pollTimer) { clearInterval(qs.pollTimer); qs.pollTimer = null; }
  closeEditor(false);
  qs.data = null; qs.announcements = [];
  $("#qs-queues").tBodies[0].replaceChildren();
  $("#ann-table").tBodies[0].replaceChildren();
}

/** A live-feed message: QueueSettingsApplied (any supervisor's change), QueueSettingsDrift
 *  (the service repaired a queue), or a new snapshot (the socket came back: changes may
 *  have been missed). */
export function queueSettingsMessage(msg) {
  if (!qs.allowed) return;
  if (msg.type === "QueueSettingsApplied" || msg.type === "QueueSettingsDrift" || msg.type === "snapshot") {
    scheduleLoad();
  }
}

/** After a language switch (the static texts are already translated). */
export function queueSettingsLangChanged() {
  if (!qs.allowed) return;
  renderList();
  renderLibrary();
  if (qs.open) {
    refreshChoices();
    renderTitle();
    renderHints();
    renderDirty();
    renderConflict();
    renderNotice();
    renderResult($("#qs-result"), qs.result);
  }
  renderResult($("#ann-result"), qs.annResult);
}

// --- loading --------------------------------------------------------------------------------

function scheduleLoad() {
  if (qs.loadTimer) return;
  qs.loadTimer = setTimeout(() => { qs.loadTimer = null; loadSettings(); }, 200);
}

async function loadAll() {
  await Promise.all([loadSettings(), loadAnnouncements()]);
}

async function loadSettings() {
  let data;
  try {
    data = await api("GET", "/api/queue-settings");
  } catch (e) {
    $("#qs-load-error").textContent = `${t("qs_load_failed")} (${e.status}): ${e.message}`;
    return;
  }
  if (!qs.allowed) return;
  $("#qs-load-error").textContent = "";
  qs.data = data;
  renderList();
  if (qs.open) followOpenQueue();
}

async function loadAnnouncements() {
  let data;
  try {
    data = await api("GET", "/api/announcements");
  } catch (e) {
    setAnnResult({ ok: false, key: "ann_load_failed", detail: `(${e.status}): ${e.message}` });
    return;
  }
  if (!qs.allowed) return;
  qs.announcements = Array.isArray(data) ? data : (data && data.announcements) || [];
  renderLibrary();
  if (qs.open) { refreshChoices(); renderHints(); }
}

const findQueue = (pbx, queue) =>
  ((qs.data && qs.data.queues) || []).find((q) => q.pbx === pbx && q.queue === queue) || null;

// --- the list of queues ---------------------------------------------------------------------

function severalPbx() {
  return new Set(((qs.data && qs.data.queues) || []).map((q) => q.pbx)).size > 1;
}

function queueLabel(q) {
  return severalPbx() ? `${q.queue} (${q.pbx})` : q.queue;
}

function stateOf(q) {
  if (!q.manageable) return { key: "qs_st_not_manageable", cls: "muted" };
  if (!q.managed || !q.version) return { key: "qs_st_unmanaged", cls: "muted" };
  if (q.apply_error) return { key: "qs_st_error", cls: "alarm", detail: q.apply_error };
  if (q.drift) return { key: "qs_st_drift", cls: "warn", detail: q.drift };
  if (q.applied_version === q.version) return { key: "qs_st_applied", cls: "ok" };
  return { key: "qs_st_pending", cls: "warn" };
}

function renderList() {
  const body = $("#qs-queues").tBodies[0];
  const queues = (qs.data && qs.data.queues) || [];
  $("#qs-empty").hidden = !qs.data || queues.length > 0;
  const seen = new Set();
  let previous = null;
  for (const q of queues) {
    const id = `${q.pbx}|${q.queue}`;
    seen.add(id);
    let row = body.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
    if (!row) row = buildListRow(q, id);
    // Moving a row only when it is out of place keeps the focus on its button.
    const wanted = previous ? previous.nextElementSibling : body.firstElementChild;
    if (wanted !== row) body.insertBefore(row, wanted);
    previous = row;
    updateListRow(row, q);
  }
  for (const row of [...body.rows]) if (!seen.has(row.dataset.id)) row.remove();
}

function buildListRow(q, id) {
  const edit = el("button", { type: "button", class: "qs-edit", "aria-controls": "qs-form",
    "aria-expanded": "false", onclick: () => toggleEditor(q.pbx, q.queue) });
  return el("tr", { "data-id": id, "data-pbx": q.pbx, "data-queue": q.queue },
    el("th", { scope: "row", class: "qs-name" }),
    el("td", { class: "qs-strategy" }),
    el("td", { class: "qs-state" }),
    el("td", { class: "qs-by" }),
    el("td", {}, edit));
}

function updateListRow(row, q) {
  row.cells[0].textContent = queueLabel(q);
  const set = q.settings && q.settings.strategy;
  const live = q.live && q.live.strategy;
  row.cells[1].replaceChildren(set || live || "—",
    !set && live ? el("span", { class: "muted" }, ` (${t("qs_conf_short")})`) : "");
  const st = stateOf(q);
  row.cells[2].className = `qs-state ${st.cls}`;
  row.cells[2].replaceChildren(
    st.cls === "alarm" || st.cls === "warn" ? el("span", { "aria-hidden": "true" }, "⚠ ") : "",
    fill(st.key, { v: q.version }), st.detail ? `: ${st.detail}` : "");
  row.cells[3].textContent = q.set_by ? `${q.set_by} · ${when(q.set_at)}` : "—";
  const button = $("button.qs-edit", row);
  const open = qs.open && qs.open.pbx === q.pbx && qs.open.queue === q.queue;
  button.textContent = t(q.manageable ? "qs_edit" : "qs_view");
  button.setAttribute("aria-label", fill(q.manageable ? "qs_edit_of" : "qs_view_of", { q: queueLabel(q) }));
  button.setAttribute("aria-expanded", open ? "true" : "false");
  row.classList.toggle("qs-open", Boolean(open));
}

// --- the form -------------------------------------------------------------------------------

function buildForm() {
  qs.formBuilt = true;
  const box = $("#qs-fields");
  box.replaceChildren(...GROUPS.map(([group, fields]) =>
    el("fieldset", { class: "qs-group" }, el("legend", { "data-i18n": group }, t(group)),
      el("div", { class: "qs-grid" }, ...fields.map(buildField)))));
  const form = $("#qs-form");
  form.addEventListener("submit", (ev) => { ev.preventDefault(); save(); });
  form.addEventListener("input", () => { renderDirty(); renderHints(); });
  form.addEventListener("change", () => { renderDirty(); renderHints(); });
  form.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") { ev.preventDefault(); closeEditor(true); }
  });
  $("#qs-revert").addEventListener("click", () => {
    if (!qs.open) return;
    fillForm(qs.open.settings);
    clearFieldErrors();
    setResult(null);
  });
  $("#qs-unmanage").addEventListener("click", unmanage);
  $("#qs-close").addEventListener("click", () => closeEditor(true));
}

function buildField(f) {
  const id = `qs-f-${f.name}`;
  const hint = el("small", { id: `qs-h-${f.name}`, class: "qs-hint" });
  const error = el("small", { id: `qs-e-${f.name}`, class: "qs-error error" });
  const described = `qs-h-${f.name} qs-e-${f.name}`;
  let input;
  if (f.kind === "number") {
    input = el("input", { id, name: f.name, type: "number", inputmode: "numeric", min: String(f.min),
      max: String(f.max), step: "1", "aria-describedby": described });
  } else {
    input = el("select", { id, name: f.name, "aria-describedby": described });
  }
  return el("div", { class: "qs-field", "data-field": f.name },
    el("label", { for: id, "data-i18n": `qs_${f.name}` }, t(`qs_${f.name}`)), input, hint, error);
}

// The choices of a select, with "as queues.conf" first; a value not among them (a class the
// PBX no longer lists, a deleted announcement) stays, marked, rather than vanish.
function choicesFor(f) {
  const q = qs.open && findQueue(qs.open.pbx, qs.open.queue);
  const pbx = qs.open ? qs.open.pbx : "";
  switch (f.kind) {
    case "choice":
      return ((qs.data && qs.data.strategies) || []).map((s) => [s, s]);
    case "bool":
      return [["yes", t("qs_yes")], ["no", t("qs_no")]];
    case "digit":
      return [..."0123456789"].map((d) => [d, d]);
    case "music":
      return (((qs.data && qs.data.music_classes) || {})[pbx] || []).map((m) => [m, m]);
    case "announcement":
      return qs.announcements.map((a) => [String(a.id), `${a.name} (${t(`lang_${a.language}`)}, ${seconds(a.duration_ms)})`]);
    case "queue":
      return ((qs.data && qs.data.queues) || [])
        .filter((o) => o.pbx === pbx && (!q || o.queue !== q.queue)).map((o) => [o.queue, o.queue]);
    default:
      return [];
  }
}

function liveValue(f) {
  const q = qs.open && findQueue(qs.open.pbx, qs.open.queue);
  if (!f.live || !q || !q.live) return null;
  const v = q.live[f.live];
  return v === undefined || v === null || v === "" ? null : String(v);
}

function refreshChoices() {
  for (const f of FIELDS) {
    const input = control(f.name);
    if (!input || input.tagName !== "SELECT") continue;
    const keep = input.value;
    const live = liveValue(f);
    const blank = f.kind === "announcement" ? t("qs_no_announcement_set")
      : live !== null ? fill("qs_as_conf_live", { v: live }) : t("qs_as_conf");
    const options = [el("option", { value: "" }, blank),
      ...choicesFor(f).map(([value, text]) => el("option", { value }, text))];
    const values = new Set(options.map((o) => o.value));
    const wanted = [keep, input.dataset.loaded || ""];
    for (const v of wanted) {
      if (v && !values.has(v)) {
        values.add(v);
        options.push(el("option", { value: v }, fill("qs_unknown_choice", { v: describe(f.name, decode(f, v)) })));
      }
    }
    // Unchanged choices are left alone: a list open under the user's hand stays open.
    const sig = JSON.stringify(options.map((o) => [o.value, o.textContent]));
    if (input.dataset.sig !== sig) {
      input.dataset.sig = sig;
      input.replaceChildren(...options);
    }
    input.value = keep;
  }
}

const encode = (f, v) => (v === null || v === undefined ? ""
  : f.kind === "bool" ? (v ? "yes" : "no") : String(v));
function decode(f, raw) {
  if (raw === "" || raw === undefined || raw === null) return null;
  if (f.kind === "bool") return raw === "yes";
  if (f.kind === "number" || f.kind === "announcement") return Number(raw);
  return raw;
}

function fillForm(settings) {
  for (const f of FIELDS) {
    const input = control(f.name);
    input.dataset.loaded = encode(f, settings ? settings[f.name] : null);
  }
  refreshChoices();
  for (const f of FIELDS) control(f.name).value = control(f.name).dataset.loaded;
  renderHints();
  renderDirty();
}

function readForm() {
  const out = {};
  for (const f of FIELDS) out[f.name] = decode(f, control(f.name).value.trim());
  return out;
}

// Field -> value, for each field whose value differs from the loaded version.
function edits() {
  if (!qs.open) return {};
  const now = readForm();
  const out = {};
  for (const f of FIELDS) {
    if (!sameValue(now[f.name], qs.open.settings[f.name])) out[f.name] = now[f.name];
  }
  return out;
}

function seconds(ms) {
  return ms === null || ms === undefined ? "—" : `${(ms / 1000).toFixed(1)} s`;
}

// A value as people read it: null is "as queues.conf".
function describe(name, value) {
  if (value === null || value === undefined) return t("qs_conf_short");
  const f = FIELD[name];
  if (f && f.kind === "bool") return t(value ? "qs_yes" : "qs_no");
  if (f && f.kind === "announcement") {
    const a = qs.announcements.find((x) => x.id === value);
    return a ? a.name : `#${value}`;
  }
  return String(value);
}

function renderTitle() {
  const q = qs.open && findQueue(qs.open.pbx, qs.open.queue);
  const label = q ? queueLabel(q) : qs.open.queue;
  $("#qs-form-title").textContent = qs.open.version
    ? fill("qs_form_title", { q: label, v: qs.open.version })
    : fill("qs_form_title_new", { q: label });
  const readonly = q && !q.manageable;
  $("#qs-readonly").hidden = !readonly;
  $("#qs-readonly").textContent = readonly ? t("qs_not_manageable") : "";
  for (const fs of $$("fieldset.qs-group", $("#qs-form"))) fs.disabled = Boolean(readonly);
  $("#qs-save").disabled = Boolean(readonly) || qs.saving;
  $("#qs-revert").disabled = Boolean(readonly);
  $("#qs-unmanage").hidden = !qs.open.version || Boolean(readonly);
}

function renderHints() {
  if (!qs.open) return;
  for (const f of FIELDS) {
    const input = control(f.name);
    const hint = document.getElementById(`qs-h-${f.name}`);
    const live = liveValue(f);
    // Empty: a select's first choice says "as queues.conf (now X)" itself; a number field
    // says it below (a placeholder goes once typing starts). Set: what Asterisk runs, when
    // that differs.
    let text = "";
    if (input.value === "") {
      if (f.kind === "number") text = live !== null ? fill("qs_hint_conf_live", { v: live }) : t("qs_hint_conf");
    } else if (live !== null && input.value !== live) {
      text = fill("qs_hint_live", { v: live });
    }
    hint.textContent = text;
    const wrap = input.closest(".qs-field");
    wrap.classList.toggle("qs-null", input.value === "");
    if (f.kind === "number") input.placeholder = live !== null ? `queues.conf: ${live}` : "queues.conf";
  }
}

function renderDirty() {
  if (!qs.open) return;
  const changed = edits();
  for (const f of FIELDS) {
    control(f.name).closest(".qs-field").classList.toggle("changed", f.name in changed);
  }
  const n = Object.keys(changed).length;
  const text = n ? fill("qs_dirty", { n }) : "";
  if ($("#qs-dirty").textContent !== text) $("#qs-dirty").textContent = text;
}

function toggleEditor(pbx, queue) {
  if (qs.open && qs.open.pbx === pbx && qs.open.queue === queue) { closeEditor(true); return; }
  openEditor(pbx, queue);
}

function openEditor(pbx, queue) {
  const q = findQueue(pbx, queue);
  if (!q) return;
  if (qs.open && Object.keys(edits()).length && !confirm(t("qs_discard"))) return;
  qs.open = { pbx, queue, version: q.version, settings: { ...q.settings } };
  qs.conflict = null; qs.newer = null;
  setResult(null);
  clearFieldErrors();
  const form = $("#qs-form");
  form.hidden = false;
  form.dataset.pbx = pbx; form.dataset.queue = queue;
  fillForm(q.settings);
  renderTitle(); renderConflict(); renderNotice();
  renderList();
  $("#qs-form-title").focus();
}

function closeEditor(focusBack) {
  const open = qs.open;
  if (open && focusBack && Object.keys(edits()).length && !confirm(t("qs_discard"))) return;
  qs.open = null; qs.conflict = null; qs.newer = null; qs.result = null;
  const form = $("#qs-form");
  form.hidden = true;
  $("#qs-conflict").hidden = true;
  renderList();
  if (open && focusBack) {
    const row = $(`#qs-queues tr[data-id="${CSS.escape(`${open.pbx}|${open.queue}`)}"] button.qs-edit`);
    if (row) row.focus();
  }
}

// The open queue after a new read of the list: someone else's newer version loads at once
// when the form has no unsaved edits; with edits it is only announced (saving would conflict).
function followOpenQueue() {
  const q = findQueue(qs.open.pbx, qs.open.queue);
  if (!q) { closeEditor(false); return; }
  renderTitle();
  refreshChoices();
  renderHints();
  if (qs.saving || q.version === qs.open.version) return;
  if (!Object.keys(edits()).length) {
    loadVersion(q);
    qs.newer = null;
    setNotice({ key: "qs_reloaded", args: { who: q.set_by || "?", v: q.version, at: when(q.set_at) },
      changes: changesBetween(qs.previousSettings, q.settings) });
  } else {
    qs.newer = q;
    setNotice({ key: "qs_newer", args: { who: q.set_by || "?", v: q.version, at: when(q.set_at), mine: qs.open.version },
      changes: changesBetween(qs.open.settings, q.settings), adopt: true });
  }
}

function loadVersion(q) {
  qs.previousSettings = qs.open.settings;
  qs.open = { pbx: q.pbx, queue: q.queue, version: q.version, settings: { ...q.settings } };
  fillForm(q.settings);
  renderTitle();
  renderList();
}

function changesBetween(before, after) {
  const out = [];
  for (const f of FIELDS) {
    const a = before ? before[f.name] : null, b = after ? after[f.name] : null;
    if (!sameValue(a, b)) out.push({ name: f.name, before: a ?? null, after: b ?? null });
  }
  return out;
}

// --- notices, results and conflicts ---------------------------------------------------------

function setNotice(notice) { qs.notice = notice; renderNotice(); }

function renderNotice() {
  const box = $("#qs-notice");
  const n = qs.open && qs.notice;
  if (!n) { box.replaceChildren(); box.className = "qs-notice"; return; }
  box.className = "qs-notice" + (n.adopt ? " warn" : "");
  box.replaceChildren(fill(n.key, n.args), changeList(n.changes, "before", "after"));
  if (n.adopt) {
    box.append(el("button", { type: "button", class: "qs-adopt", onclick: () => {
      if (!qs.newer) return;
      const mine = edits();
      adoptTheirs(qs.newer, mine, "qs_newer_loaded");
    } }, t("qs_load_theirs")));
  }
}

function changeList(changes, from, to) {
  if (!changes || !changes.length) return "";
  return el("ul", { class: "qs-changes" }, ...changes.map((c) =>
    el("li", {}, el("span", { class: "qs-field-name" }, t(`qs_${c.name}`)), t("qs_colon"),
      from ? `${describe(c.name, c[from])} → ` : "", describe(c.name, c[to]))));
}

// Someone else's version goes into the form; the user's own values stay on screen, to be put
// back with one button (nothing is saved until they press Save).
function adoptTheirs(theirs, mine, key) {
  const before = qs.open.settings;
  qs.conflict = { theirs, before, mine, key };
  qs.newer = null; qs.notice = null;
  loadVersion(theirs);
  renderNotice();
  renderConflict();
  const head = $("#qs-conflict .qs-conflict-head");
  if (head) head.focus();
}

function renderConflict() {
  const box = $("#qs-conflict");
  const c = qs.open && qs.conflict;
  if (!c) { box.hidden = true; box.replaceChildren(); return; }
  const theirs = c.theirs;
  const changed = changesBetween(c.before, theirs.settings);
  const mine = Object.entries(c.mine).map(([name, value]) => ({ name, value }));
  box.hidden = false;
  box.replaceChildren(
    el("p", { class: "qs-conflict-head", tabindex: "-1" },
      el("strong", {}, fill(c.key, { who: theirs.set_by || "?", v: theirs.version, at: when(theirs.set_at) }))),
    el("p", {}, t(changed.length ? "qs_their_changes" : "qs_their_no_changes")),
    changeList(changed, "before", "after"),
    mine.length ? el("p", {}, t("qs_your_values")) : "",
    mine.length ? el("ul", { class: "qs-changes qs-mine" }, ...mine.map((m) =>
      el("li", {}, el("span", { class: "qs-field-name" }, t(`qs_${m.name}`)), t("qs_colon"), describe(m.name, m.value)))) : "",
    el("div", { class: "editor-buttons" },
      mine.length ? el("button", { type: "button", id: "qs-reapply", onclick: reapply }, t("qs_reapply")) : "",
      el("button", { type: "button", id: "qs-dismiss", onclick: () => { qs.conflict = null; renderConflict(); $("#qs-form-title").focus(); } },
        t("qs_dismiss"))));
}

function reapply() {
  const c = qs.conflict;
  if (!c) return;
  for (const [name, value] of Object.entries(c.mine)) control(name).value = encode(FIELD[name], value);
  refreshChoices();
  renderHints(); renderDirty();
  qs.conflict = null;
  renderConflict();
  setResult({ ok: true, key: "qs_reapplied" });
  $("#qs-save").focus();
}

function setResult(result) { qs.result = result; renderResult($("#qs-result"), result); }
function setAnnResult(result) { qs.annResult = result; renderResult($("#ann-result"), result); }

function renderResult(node, r) {
  if (!r) { node.replaceChildren(); node.className = "qs-result"; return; }
  node.className = "qs-result " + (r.ok ? "ok" : "error");
  node.replaceChildren(el("strong", {}, fill(r.key, r.args || {})), r.detail ? ` ${r.detail}` : "");
}

function clearFieldErrors() {
  for (const f of FIELDS) {
    const input = control(f.name);
    if (!input) continue;
    input.removeAttribute("aria-invalid");
    document.getElementById(`qs-e-${f.name}`).textContent = "";
  }
}

function fieldError(name, text) {
  const input = control(name);
  if (!input) return false;
  input.setAttribute("aria-invalid", "true");
  const node = document.getElementById(`qs-e-${name}`);
  node.textContent = node.textContent ? `${node.textContent}; ${text}` : text;
  return true;
}

// What the page can tell before asking: the browser's own checks (whole numbers in range)
// and the rules of QueueSpec that tie two fields together.
function checkForm(settings) {
  let first = null;
  const mark = (name, text) => { fieldError(name, text); first = first || name; };
  for (const f of FIELDS) {
    const input = control(f.name);
    if (f.kind === "number" && input.value !== "") {
      const v = Number(input.value);
      if (!input.validity.valid || !Number.isInteger(v) || v < f.min || v > f.max) {
        mark(f.name, fill("qs_err_range", { min: f.min, max: f.max }));
      }
    }
  }
  const keys = ["exit_voicemail_key", "exit_callback_key", "exit_operator_key"].filter((k) => settings[k] !== null);
  for (const k of keys) {
    if (keys.some((o) => o !== k && settings[o] === settings[k])) mark(k, t("qs_err_same_key"));
  }
  if ((settings.exit_operator_key === null) !== (settings.operator_queue === null)) {
    mark(settings.exit_operator_key === null ? "exit_operator_key" : "operator_queue", t("qs_err_operator_pair"));
  }
  if (settings.periodic_announce !== null && !settings.periodic_announce_frequency) {
    mark("periodic_announce_frequency", t("qs_err_periodic_freq"));
  }
  return first;
}

// --- saving ---------------------------------------------------------------------------------

async function save() {
  if (!qs.open || qs.saving) return;
  clearFieldErrors();
  const settings = readForm();
  const bad = checkForm(settings);
  if (bad) {
    setResult({ ok: false, key: "qs_check_fields" });
    control(bad).focus();
    return;
  }
  const { pbx, queue, version } = qs.open;
  qs.saving = true;
  $("#qs-save").disabled = true;
  $("#qs-form").setAttribute("aria-busy", "true");
  setResult({ ok: true, key: "qs_applying" });
  let answer = null, failure = null;
  try {
    answer = await api("PUT", `/api/queue-settings/${enc(pbx)}/${enc(queue)}`, { version, settings });
  } catch (e) {
    failure = e;
  }
  qs.saving = false;
  $("#qs-form").removeAttribute("aria-busy");
  if (!qs.open || qs.open.pbx !== pbx || qs.open.queue !== queue) { scheduleLoad(); return; }
  $("#qs-save").disabled = false;
  if (answer) {
    qs.conflict = null; qs.newer = null; qs.notice = null;
    mergeQueue(answer);
    loadVersion(answer);
    renderConflict(); renderNotice();
    setResult({ ok: true, key: "qs_saved", args: { v: answer.version, at: when(answer.applied_at || answer.set_at) } });
    scheduleLoad();
    return;
  }
  onSaveError(failure);
  renderTitle();
}

function mergeQueue(q) {
  if (!qs.data) return;
  const i = qs.data.queues.findIndex((o) => o.pbx === q.pbx && o.queue === q.queue);
  if (i >= 0) qs.data.queues[i] = q; else qs.data.queues.push(q);
  renderList();
}

function onSaveError(e) {
  const status = e instanceof ApiError ? e.status : 0;
  const code = e instanceof ApiError ? e.error : "network";
  const body = (e && e.body) || {};
  if (status === 409 && code === "version-conflict" && body.current) {
    const mine = edits();
    mergeQueue(body.current);
    adoptTheirs(body.current, mine, "qs_conflict");
    setResult({ ok: false, key: "qs_conflict_result" });
    return;
  }
  if (status === 400 && (code === "invalid-body" || code === "invalid-json" || code === "bad-json")) {
    const problems = body.problems || body.errors || [];
    let first = null;
    for (const p of Array.isArray(problems) ? problems : Object.entries(problems).map(([field, problem]) => ({ field, problem }))) {
      const name = String(p.field || "").split(".").pop();
      if (FIELD[name] && fieldError(name, p.problem || p.msg || "")) first = first || name;
    }
    setResult({ ok: false, key: "qs_invalid", detail: e.message });
    if (first) control(first).focus();
    return;
  }
  if (ERROR_FIELD[code]) fieldError(ERROR_FIELD[code], e.message);
  const key = {
    "needs-restart": "qs_needs_restart", "strategy-fixed-in-queues-conf": "qs_strategy_fixed",
    "not-manageable": "qs_not_manageable_err",
    "pbx-refused": "qs_pbx_refused", "pbx-unavailable": "qs_pbx_unavailable",
  }[code] || "qs_failed";
  setResult({ ok: false, key, args: { status }, detail: e.message });
  if (ERROR_FIELD[code]) control(ERROR_FIELD[code]).focus();
  if (status === 409 || status === 404) scheduleLoad();
}

async function unmanage() {
  if (!qs.open || !qs.open.version) return;
  const { pbx, queue, version } = qs.open;
  if (!confirm(fill("qs_confirm_unmanage", { q: queue }))) return;
  let answer;
  try {
    answer = await api("DELETE", `/api/queue-settings/${enc(pbx)}/${enc(queue)}?version=${enc(version)}`);
  } catch (e) {
    if (e.status === 409 && e.error === "version-conflict" && e.body && e.body.current) {
      onSaveError(e);
      return;
    }
    setResult({ ok: false, key: "qs_failed", args: { status: e.status }, detail: e.message });
    return;
  }
  if (answer && answer.queue === queue && answer.settings) {
    mergeQueue(answer);
    loadVersion(answer);
  }
  setResult({ ok: true, key: "qs_unmanaged" });
  await loadSettings();
  const q = findQueue(pbx, queue);
  if (q && qs.open && (qs.open.version !== q.version)) loadVersion(q);
}

// --- the announcements library --------------------------------------------------------------

function renderLibrary() {
  const body = $("#ann-table").tBodies[0];
  const list = qs.announcements;
  $("#ann-empty").hidden = list.length > 0;
  $("#ann-count").textContent = `(${list.length})`;
  const seen = new Set();
  let previous = null;
  for (const a of list) {
    const id = String(a.id);
    seen.add(id);
    // Rows are kept (not rebuilt): a preview that is playing goes on playing.
    let row = body.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
    if (!row) row = buildAnnRow(a);
    const wanted = previous ? previous.nextElementSibling : body.firstElementChild;
    if (wanted !== row) body.insertBefore(row, wanted);
    previous = row;
    updateAnnRow(row, a);
  }
  for (const row of [...body.rows]) if (!seen.has(row.dataset.id)) row.remove();
}

function buildAnnRow(a) {
  return el("tr", { "data-id": String(a.id) },
    el("th", { scope: "row", class: "ann-name" }),
    el("td", { class: "ann-lang" }),
    el("td", { class: "ann-source" }),
    el("td", { class: "num ann-duration" }),
    el("td", { class: "ann-by" }),
    el("td", { class: "ann-preview" },
      el("audio", { controls: "", preload: "none", src: a.audio_url || `/api/announcements/${enc(a.id)}/audio` })),
    el("td", {}, el("button", { type: "button", class: "ann-delete", onclick: () => deleteAnnouncement(a.id) })));
}

function updateAnnRow(row, a) {
  const name = row.cells[0];
  name.replaceChildren(a.name, a.text ? el("div", { class: "ann-text muted" }, a.text) : "");
  row.cells[1].textContent = t(`lang_${a.language}`);
  const src = a.source === "draft" || a.source === "upload" || a.source === "recorded"
    ? t(`ann_src_${a.source}`) : a.source || "";
  row.cells[2].textContent = src;
  row.cells[3].textContent = seconds(a.duration_ms);
  row.cells[4].textContent = [a.created_by, when(a.created_at)].filter(Boolean).join(" · ");
  $("audio", row).setAttribute("aria-label", fill("ann_preview_of", { n: a.name }));
  const del = $("button.ann-delete", row);
  del.textContent = t("ann_delete");
  del.setAttribute("aria-label", fill("ann_delete_of", { n: a.name }));
}

function describeApiFailure(e) {
  return `(${e.status}): ${e.message}`;
}

async function deleteAnnouncement(id) {
  const a = qs.announcements.find((x) => x.id === id);
  const name = a ? a.name : `#${id}`;
  if (!confirm(fill("ann_confirm_delete", { n: name }))) return;
  try {
    await api("DELETE", `/api/announcements/${enc(id)}`);
  } catch (e) {
    const key = e.error === "announcement-in-use" ? "ann_in_use" : "ann_delete_failed";
    const used = e.body && (e.body.queues || e.body.used_by);
    setAnnResult({ ok: false, key, args: { n: name },
      detail: Array.isArray(used) && used.length ? `${used.map((u) => (typeof u === "string" ? u : u.queue || JSON.stringify(u))).join(", ")}` : describeApiFailure(e) });
    return;
  }
  setAnnResult({ ok: true, key: "ann_deleted", args: { n: name } });
  await loadAnnouncements();
  $("#ann-file").focus();
}

// The recording goes as it is, the request body with the file's own type (not JSON).
async function upload(path, file) {
  let response;
  try {
    response = await fetch(path, { method: "POST", credentials: "same-origin", body: file,
      headers: { Accept: "application/json", "Content-Type": file.type || "application/octet-stream" } });
  } catch (exc) {
    throw new ApiError(0, "network", (exc && exc.message) || "network error");
  }
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (response.ok) return data;
  const shaped = data && typeof data === "object" ? data : null;
  throw new ApiError(response.status, (shaped && shaped.error) || `http-${response.status}`,
    (shaped && shaped.message) || `HTTP ${response.status}`, shaped);
}

function nameFromFile(file) {
  return file.name.replace(/\.[^.]*$/, "").replace(/[^\p{L}\p{N} _.-]/gu, "_").slice(0, 80);
}

$("#ann-file").addEventListener("change", () => {
  const file = $("#ann-file").files[0];
  if (file && !$("#ann-up-name").value.trim()) $("#ann-up-name").value = nameFromFile(file);
});

$("#ann-upload").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const file = $("#ann-file").files[0];
  const name = $("#ann-up-name").value.trim();
  if (!file || !name) { setAnnResult({ ok: false, key: "ann_need_file" }); return; }
  const button = $("button[type=submit]", form);
  button.disabled = true;
  setAnnResult({ ok: true, key: "ann_uploading" });
  let added;
  try {
    added = await upload(`/api/announcements/upload?name=${enc(name)}&language=${enc($("#ann-up-lang").value)}`, file);
  } catch (e) {
    setAnnResult({ ok: false, key: "ann_add_failed", args: { n: name }, detail: describeApiFailure(e) });
    button.disabled = false;
    return;
  }
  button.disabled = false;
  form.reset();
  setAnnResult({ ok: true, key: "ann_added", args: { n: (added && added.name) || name } });
  await loadAnnouncements();
});

$("#ann-draft").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const body = { name: $("#ann-draft-name").value.trim(), language: $("#ann-draft-lang").value,
                 text: $("#ann-draft-text").value.trim() };
  if (!body.name || !body.text) { setAnnResult({ ok: false, key: "ann_need_text" }); return; }
  const button = $("button[type=submit]", form);
  button.disabled = true;
  setAnnResult({ ok: true, key: "ann_drafting" });
  let added;
  try {
    added = await api("POST", "/api/announcements/draft", body);
  } catch (e) {
    setAnnResult({ ok: false, key: "ann_add_failed", args: { n: body.name }, detail: describeApiFailure(e) });
    button.disabled = false;
    return;
  }
  button.disabled = false;
  form.reset();
  setAnnResult({ ok: true, key: "ann_added", args: { n: (added && added.name) || body.name } });
  await loadAnnouncements();
});
