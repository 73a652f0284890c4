// The handover page (docs/handover.md). An agent drafts a handover from what they own
// (GET /api/handover/draft), adds a note per item and a summary, submits it
// (POST /api/handovers), or returns the rest to the team pool; decides on the items handed to
// them (accept, ask, refuse) and answers questions about their own. A supervisor sees the
// day's handovers (waiting and done), steps in on a waiting item (reassign) and sees the items
// nobody owns. Plain JS (an ES module), rendering only through textContent / createElement.
import {
  $, el, api, ApiError, t, getLang, setLang, rememberedLang, applyI18n, onLangChange, bindLangButton,
} from "/static/common/common.js";
import "./i18n.js";

// The work log's figures shown in the draft (the others are the work log's own business).
const FIGURES = ["calls", "talk_seconds", "callbacks", "items_opened", "items_resolved", "pause_seconds",
  "handovers_given", "handovers_taken"];
const state = { user: null, draft: null, mine: null, day: null, ownerless: null, result: null, zone: undefined, busy: false,
  // What is being typed in a question, answer or refusal (by field id): the lists are drawn
  // again after every action, and a half-written question must not vanish with them.
  typed: new Map() };
const holds = (u, p) => Boolean(u && (u.permissions || []).includes(p));
const may = (p) => holds(state.user, p);
const fill = (key, values) => Object.entries(values).reduce((s, [k, v]) => s.replaceAll(`{${k}}`, v), t(key));
const code = (prefix, value) => { const k = `${prefix}${value}`; const x = t(k); return x === k ? value : x; };

// Times are shown in the contact centre's zone (the API's "zone"), whatever the browser's.
function format(iso, options) {
  const locale = getLang() === "zh" ? "zh-CN" : "en-GB";
  try {
    return new Intl.DateTimeFormat(locale, { ...options, timeZone: state.zone }).format(new Date(iso));
  } catch (_) {
    return new Intl.DateTimeFormat(locale, options).format(new Date(iso));
  }
}
function when(iso) {
  if (!iso) return t("none");
  return format(iso, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
function clock(iso) {
  return format(iso, { hour: "2-digit", minute: "2-digit" });
}
const teamLabel = (h) => (getLang() === "zh" ? h.team_label_zh : h.team_label_en) || h.team_name;
function problemText(e) {
  if (!(e instanceof ApiError)) return String(e);
  const key = `err_${e.error}`;
  const text = t(key);
  return `${text === key ? t("failed") : text} (${e.status}) ${t("server_says")}${e.message}`;
}
function show(ok, words) { state.result = words ? { ok, words } : null; renderResult(); }
function renderResult() {
  const node = $("#result");
  node.className = "result " + (state.result && state.result.ok ? "ok" : "error");
  node.textContent = state.result ? state.result.words() : "";
}
// One request at a time: every button of the page is disabled while one runs (a double click
// does not submit twice), and enabled again once the page is reloaded.
function setBusy(busy) {
  state.busy = busy;
  for (const b of document.querySelectorAll("#handover-view button")) b.disabled = busy;
  $("#handover-view").setAttribute("aria-busy", String(busy));
}
async function act(run, words) {
  if (state.busy) return;
  setBusy(true);
  try {
    try {
      await run();
      show(true, words);
    } catch (e) {
      show(false, () => problemText(e));
    }
    await load();
  } finally {
    setBusy(false);
  }
}

// --- login ------------------------------------------------------------------------------------

function showLogin(message) {
  state.user = null;
  $("#login-view").hidden = false; $("#handover-view").hidden = true; $("#logout").hidden = true;
  $("#who").textContent = "";
  $("#login-error").textContent = message || "";
}
async function showPage(user) {
  state.user = user;
  if (!rememberedLang() && user.language) setLang(user.language, { remember: false });
  $("#login-view").hidden = true; $("#handover-view").hidden = false; $("#logout").hidden = false;
  $("#who").textContent = user.display_name || user.username;
  $("#work-link").hidden = !may("work:supervise");
  await load();
}
const allowed = (u) => holds(u, "work:own") || holds(u, "work:supervise");
async function start() {
  applyI18n();
  $("#pages").setAttribute("aria-label", t("main_nav"));
  let user;
  try { user = (await api("GET", "/api/me")).user; } catch (_) { showLogin(""); return; }
  if (!allowed(user)) { showLogin(t("not_allowed")); return; }
  showPage(user);
}
$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  let data;
  try {
    data = await api("POST", "/api/login", { username: $("#username").value, password: $("#password").value });
  } catch (e) {
    $("#login-error").textContent = e.status === 0 || e.status >= 500 ? e.message : t("bad_login");
    return;
  }
  $("#password").value = "";
  if (allowed(data.user)) showPage(data.user); else showLogin(t("not_allowed"));
});
$("#logout").addEventListener("click", async () => { await api("POST", "/api/logout").catch(() => null); showLogin(""); });
bindLangButton($("#lang"));
onLangChange(() => { $("#pages").setAttribute("aria-label", t("main_nav")); renderAll(); renderResult(); });

// --- loading ----------------------------------------------------------------------------------

async function load() {
  const keep = (key) => (answer) => { state[key] = answer; state.zone = answer.zone || state.zone; };
  const jobs = [api("GET", "/api/handover/mine").then(keep("mine"))];
  if (may("work:own")) jobs.push(api("GET", "/api/handover/draft").then(keep("draft")));
  if (may("work:supervise")) {
    jobs.push(api("GET", "/api/handovers").then(keep("day")));
    jobs.push(api("GET", "/api/handover/ownerless").then(keep("ownerless")));
  }
  try { await Promise.all(jobs); } catch (e) {
    if (e.status === 401) { showLogin(""); return; }
    show(false, () => problemText(e));
  }
  renderAll();
}
function renderAll() {
  if (!state.user) return;
  renderMine();
  renderDraft();
  renderSupervisor();
}

// --- a handover document --------------------------------------------------------------------

function docNode(h, role) {
  const team = teamLabel(h);
  const to = h.successor_name || (team ? fill("team_pool_of", { x: team }) : t("team_pool"));
  const title = fill("doc_title", { n: h.id, k: code("k_", h.kind), g: h.giver_name, s: to });
  const facts = [code("st_", h.state), fill("submitted_at", { t: when(h.submitted_at) })];
  if (h.done_at) facts.push(fill("done_at", { t: when(h.done_at) }));
  if (h.reason) facts.push(code("r_", h.reason));
  const node = el("article", { class: "doc", "aria-label": title, "data-handover": h.id },
    el("h3", {}, title), el("p", { class: "muted" }, facts.join(" · ")));
  const s = h.summary;
  if (s.work_done || s.results || s.problems) {
    const dl = el("dl", { class: "facts summary" });
    for (const k of ["work_done", "results", "problems"]) {
      if (s[k]) dl.append(el("dt", {}, t(k)), el("dd", {}, s[k]));
    }
    node.append(dl);
  }
  for (const item of h.items) node.append(itemNode(h, item, role));
  if (role === "giver" && h.state === "submitted") {
    node.append(el("div", { class: "actions" }, el("button", {
      type: "button", class: "withdraw", "aria-label": fill("withdraw_label", { n: h.id }),
      onclick: () => act(() => api("POST", `/api/handovers/${h.id}/withdraw`), () => t("withdrawn_msg")),
    }, t("withdraw"))));
  }
  return node;
}

function itemNode(h, item, role) {
  const stateKey = item.state === "withdrawn" ? "st_withdrawn_item" : `st_${item.state}`;
  const head = el("div", { class: "head" },
    el("strong", {}, item.ticket), el("span", {}, item.title),
    item.promised ? el("span", { class: "promise" }, t("promised")) : null,
    el("span", { class: `state state-${item.state}` }, t(stateKey)),
    item.to_user_name ? el("span", {}, fill("to_user", { x: item.to_user_name })) : null);
  const node = el("div", { class: "item", "data-item": item.item_id }, head);
  if (item.note) node.append(el("p", {}, item.note));
  if (item.now && item.now.last_note && item.now.last_note !== item.note) {
    node.append(el("p", { class: "muted" }, `${t("last_note")}: ${item.now.last_note}`));
  }
  if (item.messages.length) {
    const thread = el("ul", { class: "plain thread" });
    for (const m of item.messages) {
      thread.append(el("li", {}, el("strong", {}, `${code("m_", m.kind)} · ${m.author} · ${clock(m.at)}：`), ` ${m.text}`));
    }
    node.append(thread);
  }
  const live = h.state === "submitted" && ["pending", "asked", "refused"].includes(item.state);
  if (!live) return node;
  const path = `/api/handovers/${h.id}/items/${item.item_id}`;
  if (role === "taker" && item.state !== "refused") node.append(takerActions(path, item));
  if (role === "giver" && item.state === "asked") node.append(textAction(path, "answer", "answer_label", item, () => t("answered_msg")));
  if (role === "supervisor") node.append(reassignAction(h, path, item));
  return node;
}

function textAction(path, verb, labelKey, item, words, field = "text") {
  const id = `${verb}-${path.replaceAll("/", "-")}`;
  const input = el("input", { type: "text", id, maxlength: "4000", required: "", placeholder: fill(labelKey, { t: item.ticket }) });
  input.value = state.typed.get(id) || "";
  input.addEventListener("input", () => state.typed.set(id, input.value));
  const form = el("form", { class: "actions" },
    el("label", { for: id, class: "sr-only" }, fill(labelKey, { t: item.ticket })), input,
    el("button", { type: "submit", "aria-label": fill(`${verb}_button`, { t: item.ticket }) }, t(verb)));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!input.value.trim()) { input.focus(); return; }
    act(async () => {
      await api("POST", `${path}/${verb}`, { [field]: input.value });
      state.typed.delete(id); // sent: the next drawing starts empty
    }, words);
  });
  return form;
}

function takerActions(path, item) {
  const box = el("div", { class: "taker" });
  box.append(el("div", { class: "actions" }, el("button", {
    type: "button", class: "primary accept", "aria-label": fill("accept_button", { t: item.ticket }),
    onclick: () => act(() => api("POST", `${path}/accept`), () => fill("accepted_msg", { t: item.ticket })),
  }, t("accept"))));
  box.append(textAction(path, "ask", "question_label", item, () => t("asked_msg")));
  box.append(textAction(path, "refuse", "refuse_label", item, () => t("refused_msg"), "reason"));
  return box;
}

function reassignAction(h, path, item) {
  const id = `reassign-${h.id}-${item.item_id}`;
  const select = el("select", { id },
    el("option", { value: "" }, t("choose")),
    // Only people who work items, in my teams (the API's list).
    ...(state.day ? state.day.people : []).filter((u) => u.id !== h.giver_id)
      .map((u) => el("option", { value: String(u.id) }, u.name)));
  const form = el("form", { class: "actions" },
    el("label", { for: id }, fill("reassign_label", { t: item.ticket })), select,
    el("button", { type: "submit", "aria-label": fill("reassign_button", { t: item.ticket }) }, t("reassign")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!select.value) { select.focus(); return; }
    act(() => api("POST", `${path}/reassign`, { user_id: Number(select.value) }), () => t("reassigned_msg"));
  });
  return form;
}

function renderMine() {
  const m = state.mine;
  if (!m) return;
  $("#to-me-section").hidden = false;
  $("#given-section").hidden = !may("work:own");
  $("#to-me").replaceChildren(...m.to_me.map((h) => docNode(h, "taker")));
  $("#to-me-empty").hidden = m.to_me.length > 0;
  $("#given").replaceChildren(...m.given.map((h) => docNode(h, "giver")));
  $("#given-empty").hidden = m.given.length > 0;
}

// --- the draft ----------------------------------------------------------------------------------

function spanText(key, span) {
  return fill(key, { s: span.label, a: clock(span.start), b: clock(span.end) });
}
function renderDraft() {
  const d = state.draft;
  $("#draft-section").hidden = !d;
  if (!d) return;
  $("#shift-info").textContent = d.shift ? spanText(d.on_shift ? "shift_now" : "shift_last", d.shift) : t("no_shift");
  // Keep what was typed across a refresh.
  const typed = new Map([...document.querySelectorAll("#draft-items tbody tr")].map((tr) => [
    tr.dataset.item, { on: tr.querySelector("input[type=checkbox]").checked, note: tr.querySelector("input[type=text]").value },
  ]));
  const select = $("#successor");
  const keep = select.value;
  const suggested = new Set(d.successors.map((s) => s.id));
  const others = d.people.filter((u) => u.id !== d.giver.id && !suggested.has(u.id));
  select.replaceChildren(
    ...d.successors.map((s) => el("option", { value: String(s.id) }, s.name + t("suggested"))),
    el("option", { value: "" }, t("team_pool")),
    ...others.map((u) => el("option", { value: String(u.id) }, u.name)));
  if (keep && [...select.options].some((o) => o.value === keep)) select.value = keep;
  const rows = d.items.map((item) => {
    const was = typed.get(String(item.id));
    const box = el("input", { type: "checkbox", id: `pick-${item.id}`, "aria-label": fill("pick_item", { t: item.ticket }) });
    box.checked = was ? was.on : item.in_handover == null;
    box.disabled = item.in_handover != null;
    const note = el("input", { type: "text", maxlength: "4000", "aria-label": fill("note_for", { t: item.ticket }) });
    note.value = was ? was.note : "";
    note.disabled = item.in_handover != null;
    const customer = [item.customer_name, item.phone].filter(Boolean).join(" ") || t("none");
    return el("tr", { "data-item": String(item.id) },
      el("td", {}, box),
      el("td", {}, item.ticket, item.promised ? el("span", { class: "promise" }, t("promised")) : null),
      el("td", {}, item.title, item.in_handover != null ? el("div", { class: "muted" }, fill("in_handover", { n: item.in_handover })) : null),
      el("td", {}, customer), el("td", {}, when(item.due_at)), el("td", {}, item.last_note || t("none")), el("td", {}, note));
  });
  $("#draft-items tbody").replaceChildren(...rows);
  $("#draft-empty").hidden = d.items.length > 0;
  $("#callbacks").replaceChildren(...d.callbacks.map((c) => el("li", {}, `${c.ticket} ${c.title} · ${when(c.callback_at)}`)));
  $("#customers").replaceChildren(...d.customers.map((c) => el("li", {}, `${c.name || t("none")} ${c.phone || ""} · ${c.tickets.join(", ")}`)));
  $("#key-contacts").replaceChildren(...d.key_contacts.map((c) => {
    const tags = [];
    if (c.vip_level > 0) tags.push(fill("vip", { n: c.vip_level }));
    if (c.dedicated) tags.push(t("dedicated"));
    if (c.calls) tags.push(fill("calls_n", { n: c.calls }));
    return el("li", {}, `${c.name} ${c.phone || ""} · ${tags.join(" · ")}`);
  }));
  for (const id of ["#callbacks", "#customers", "#key-contacts"]) {
    if (!$(id).children.length) $(id).append(el("li", { class: "muted" }, t("none")));
  }
  $("#figures-box").hidden = !d.figures;
  if (d.figures) {
    $("#figures").replaceChildren(...FIGURES.filter((k) => typeof d.figures[k] === "number").flatMap((k) => {
      const v = d.figures[k];
      return [el("dt", {}, t(`f_${k}`)), el("dd", {}, k.endsWith("_seconds") ? fill("minutes", { n: Math.round(v / 60) }) : String(v))];
    }));
  }
}

$("#kind").addEventListener("change", () => { $("#reason-field").hidden = $("#kind").value !== "permanent"; });
$("#draft-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const items = [...document.querySelectorAll("#draft-items tbody tr")]
    .filter((tr) => tr.querySelector("input[type=checkbox]").checked)
    .map((tr) => ({ item_id: Number(tr.dataset.item), note: tr.querySelector("input[type=text]").value }));
  const kind = $("#kind").value;
  const body = {
    kind, items,
    summary: { work_done: $("#work-done").value, results: $("#results").value, problems: $("#problems").value },
  };
  if ($("#successor").value) body.successor_id = Number($("#successor").value);
  if (kind === "permanent") body.reason = $("#reason").value;
  let number = "";
  act(async () => {
    const h = await api("POST", "/api/handovers", body);
    for (const id of ["#work-done", "#results", "#problems"]) $(id).value = "";
    $("#draft-items tbody").replaceChildren();
    number = h.id;
  }, () => fill("submitted", { n: number }));
});
$("#to-pool").addEventListener("click", () => {
  let count = 0;
  act(async () => { count = (await api("POST", "/api/handover/end-of-shift/pool")).returned.length; },
    () => (count ? fill("pooled", { n: count }) : t("nothing_pooled")));
});

// --- the supervisor's view -------------------------------------------------------------------

function renderSupervisor() {
  $("#supervisor-section").hidden = !may("work:supervise");
  if (!state.day) return;
  const pending = state.day.handovers.filter((h) => h.state === "submitted");
  const done = state.day.handovers.filter((h) => h.state === "done");
  $("#sup-pending").replaceChildren(...pending.map((h) => docNode(h, "supervisor")));
  $("#sup-pending-empty").hidden = pending.length > 0;
  $("#sup-done").replaceChildren(...done.map((h) => docNode(h, "supervisor")));
  $("#sup-done-empty").hidden = done.length > 0;
  const items = state.ownerless ? state.ownerless.items : [];
  $("#ownerless tbody").replaceChildren(...items.map((i) => el("tr", {},
    el("td", {}, i.ticket), el("td", {}, i.title), el("td", {}, i.owner_name),
    el("td", {}, code("why_", i.why.replaceAll("-", "_"))), el("td", {}, when(i.returns_at)))));
  $("#ownerless-empty").hidden = items.length > 0;
  $("#ownerless").hidden = items.length === 0;
}

start();
