// The agent console: login, signing in at a phone, the state menu (ready / not-ready codes),
// the screen-pop card, the customer form.
import {
  $, $$, el, api, liveSocket, t, getLang, setLang, rememberedLang, applyI18n, onLangChange,
  bindLangButton, showLinkState,
} from "/static/common/common.js";
import "./i18n.js";

const state = {
  user: null, pops: new Map(), current: null, timer: null,
  // GET /api/agent/desk: where the agent is signed in, their state, the codes they may pick.
  desk: null,
  // The state whose over-limit alert came on the socket (its `since`), and the last refusal
  // of a sign-in or state change ({ key, message }), kept to re-render on a language switch.
  alertedSince: null, signinError: null, stateError: null, busy: false,
  // The server's clock minus the browser's (ms), from the `now` of each desk answer: the
  // running clocks count from the server's time, whatever the browser's clock says.
  clockOffset: 0,
};

// --- the server's clock ---------------------------------------------------------------------
function serverNow() { return Date.now() + state.clockOffset; }
// The server read its clock between the request going out and the answer coming back: the
// middle of the two is the best guess of the browser's time at that instant.
function noteServerClock(answer, sentAt) {
  const server = answer && answer.now ? Date.parse(answer.now) : NaN;
  if (!Number.isNaN(server)) state.clockOffset = server - (sentAt + Date.now()) / 2;
}
// A call whose answer is the desk (GET /api/agent/desk and the actions): keeps the offset.
async function deskApi(method, path, body) {
  const sentAt = Date.now();
  const answer = await api(method, path, body);
  noteServerClock(answer, sentAt);
  return answer;
}

// --- the agent socket (reconnects with jittered back-off; a lost session shows the login) ----
const socket = liveSocket("/ws/agent", {
  onMessage: (msg) => handle(msg),
  onState: (s) => {
    showLinkState($("#link-state"), s);
    // (Re)connected: what changed while the socket was down comes from the desk.
    if (s === "open") loadDesk();
  },
  beforeRetry: async () => {
    try { await api("GET", "/api/me"); } catch (e) {
      if (e.status === 401) { showLogin(); return false; }
    }
    return true;
  },
});

// --- language -------------------------------------------------------------------------------
bindLangButton($("#lang"));
onLangChange(() => { renderDesk(); renderCard(); });

// --- login ----------------------------------------------------------------------------------
function showLogin() {
  state.user = null; state.desk = null;
  socket.stop();
  $("#login-view").hidden = false; $("#console-view").hidden = true; $("#logout").hidden = true;
  $("#who").textContent = "";
}
function showConsole(user) {
  state.user = user;
  // The profile's language until the user picks one on this browser.
  if (!rememberedLang() && user.language) setLang(user.language, { remember: false });
  $("#login-view").hidden = true; $("#console-view").hidden = false; $("#logout").hidden = false;
  $("#who").textContent = user.display_name;
  $("#signin-interface").value = rememberedInterface() || (user.interfaces || [])[0] || "";
  // VIP level and tags steer routing: staff set them, an agent sees them (the API says the same).
  const classify = (user.permissions || []).includes("customers:classify");
  for (const id of ["#cf-vip", "#cf-tags"]) {
    $(id).disabled = !classify;
    if (classify) { delete $(id).dataset.i18nTitle; $(id).title = ""; }
    else $(id).dataset.i18nTitle = "staff_only";
  }
  applyI18n();
  state.signinError = state.stateError = null;
  renderDesk();
  loadDesk();
  socket.start();
}
$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#login-error").textContent = "";
  try {
    const data = await api("POST", "/api/login", { username: $("#username").value, password: $("#password").value });
    $("#password").value = "";
    showConsole(data.user);
  } catch (e) {
    if (e.status === 429) $("#login-error").textContent = t("too_many");
    else if (e.status === 0 || e.status >= 500) $("#login-error").textContent = e.message;
    else $("#login-error").textContent = t("bad_login");
  }
});
$("#logout").addEventListener("click", async () => {
  await api("POST", "/api/logout").catch(() => null);
  showLogin();
});

function handle(msg) {
  switch (msg.type) {
    case "hello":
      state.pops.clear();
      msg.pops.forEach((p) => state.pops.set(p.pop_id, p));
      state.current = msg.pops.length ? msg.pops[msg.pops.length - 1].pop_id : state.current;
      break;
    case "pop":
      state.pops.set(msg.pop.pop_id, msg.pop);
      state.current = msg.pop.pop_id;
      addRecent(msg.pop);
      fillForm(msg.pop);
      break;
    case "pop_update": {
      const pop = state.pops.get(msg.pop_id);
      if (pop) { pop.crm = msg.crm; pop.incomplete = msg.incomplete; }
      break;
    }
    case "pop_connected": {
      const pop = state.pops.get(msg.pop_id);
      if (pop) { pop.state = "connected"; pop.connected_at = msg.at; setRecent(pop, "call_connected"); }
      break;
    }
    case "pop_withdrawn": {
      const pop = state.pops.get(msg.pop_id);
      if (pop) { pop.state = "withdrawn"; pop.reason = msg.reason; setRecent(pop, msg.reason); }
      break;
    }
    case "pop_ended": {
      const pop = state.pops.get(msg.pop_id);
      if (pop) { pop.state = "ended"; pop.ended_at = msg.at; setRecent(pop, "call_ended"); }
      break;
    }
    case "agent_state":
      // The state changed (here, from the phone, by a supervisor or by the PBX): show it at
      // once, then read the desk again for where they are signed in and the codes' counts.
      if (state.desk) { state.desk.state = msg.state; renderDesk(); }
      scheduleDesk();
      return;
    case "state_over_limit":
      state.alertedSince = msg.since;
      renderDesk();
      return;
    default:
      return;
  }
  renderCard();
}

// --- signing in at a phone, and the state menu ------------------------------------------------
const IFACE_KEY = "cc.agent.interface";
function rememberedInterface() {
  try { return localStorage.getItem(IFACE_KEY); } catch (_) { return null; }
}
function rememberInterface(value) {
  try { localStorage.setItem(IFACE_KEY, value); } catch (_) { /* private mode */ }
}

let deskTimer = null;
function scheduleDesk() {
  if (deskTimer) return;
  deskTimer = setTimeout(() => { deskTimer = null; loadDesk(); }, 300);
}
async function loadDesk() {
  if (!state.user) return;
  try {
    state.desk = await deskApi("GET", "/api/agent/desk");
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    return;
  }
  renderDesk();
}

// A refusal in the user's language, with the server's own words after it.
const KNOWN_ERRORS = new Set(["phone-taken", "signed-in-elsewhere", "no-such-phone", "no-queues",
  "pbx-required", "no-such-pbx", "not-signed-in", "no-such-code", "code-full", "network",
  "forbidden", "database-unavailable", "invalid-body"]);
function refusal(e) {
  let key = KNOWN_ERRORS.has(e.error) ? "err_" + e.error : "err_other";
  if (String(e.error).startsWith("pbx-")) key = "err_pbx";
  return { key, message: e.message || "" };
}
function showRefusal(node, error) {
  if (!error) { node.textContent = ""; return; }
  node.replaceChildren(el("strong", {}, t(error.key)));
  if (error.message) node.append(" ", el("span", { class: "server-says" }, t("server_says") + error.message));
}

function label2(item) {
  // Labels the admin gave in both languages: the user's, else the other one, else the code.
  return (getLang() === "en" ? item.label_en || item.label_zh : item.label_zh || item.label_en) || item.code;
}
function codeOf(code) {
  return ((state.desk && state.desk.codes) || []).find((c) => c.code === code) || null;
}
function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(r)}` : `${two(m)}:${two(r)}`;
}
function minutes(seconds) {
  return seconds % 60 === 0 ? t("n_min").replace("{n}", seconds / 60) : t("n_s").replace("{n}", seconds);
}
function stateName(st) {
  if (!st) return t("unknown");
  const name = t("st_" + st.state);
  if (st.state !== "not-ready") return name;
  if (st.code === "other") return name + " · " + (st.reason || t("code_other"));
  const code = codeOf(st.code);
  return name + " · " + (code ? label2(code) : st.code || t("code_other"));
}
function elapsed(st) { return st && st.since ? (serverNow() - Date.parse(st.since)) / 1000 : 0; }
function isOverLimit(st) {
  if (!st || st.state !== "not-ready") return false;
  if (st.over_limit || (state.alertedSince && state.alertedSince === st.since)) return true;
  return st.limit_seconds != null && elapsed(st) > st.limit_seconds;
}

function renderDesk() {
  renderPhone(); renderState(); renderMenu();
  showRefusal($("#signin-error"), state.signinError);
  showRefusal($("#status-error"), state.stateError);
}

function renderPhone() {
  const desk = state.desk;
  const on = desk && desk.signed_in;
  const pbxs = (desk && desk.pbxs) || [];
  const select = $("#signin-pbx");
  if (select.dataset.values !== pbxs.join(",")) {
    const keep = select.value;
    select.dataset.values = pbxs.join(",");
    select.replaceChildren(...pbxs.map((p) => el("option", { value: p }, p)));
    if (pbxs.includes(keep)) select.value = keep;
  }
  $("#signin-pbx-field").hidden = pbxs.length <= 1;
  const where = $("#signed-in-at");
  if (!desk) {
    where.textContent = "";
  } else if (on) {
    const at = on.since ? new Date(on.since).toLocaleTimeString(getLang() === "zh" ? "zh-CN" : "en-GB",
      { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }) : "";
    where.className = "signed-in-at on";
    where.replaceChildren(
      el("span", { class: "dot", "aria-hidden": "true" }),
      t("signed_in_at") + " ",
      el("strong", { class: "iface" }, on.interface),
      pbxs.length > 1 ? " (" + on.pbx + ")" : "",
      at ? " · " + t("since") + " " + at : "",
      on.via === "phone" ? " · " + t("via_phone") : "");
    if (document.activeElement !== $("#signin-interface")) $("#signin-interface").value = on.interface;
    if (pbxs.includes(on.pbx)) select.value = on.pbx;
  } else {
    where.className = "signed-in-at off";
    where.replaceChildren(el("span", { class: "dot", "aria-hidden": "true" }), t("not_signed_in"));
  }
  // The queues the sign-in joined (from the agent's skills), best level first.
  const queues = on ? [...((desk && desk.queues) || [])].sort((a, b) => a.penalty - b.penalty) : [];
  $("#my-queues").hidden = !queues.length;
  $("#my-queues").textContent = queues.length
    ? t("my_queues") + queues.map((q) => q.queue + (pbxs.length > 1 ? "@" + q.pbx : "")).join(", ") : "";
  $("#signin-interface").readOnly = Boolean(on);
  $("#signin").disabled = state.busy || Boolean(on) || !desk;
  $("#signout").disabled = state.busy || !on;
}

function renderState() {
  const st = state.desk ? state.desk.state : null;
  const over = isOverLimit(st);
  const now = $("#state-now");
  now.className = "state-now state-" + (st ? st.state : "signed-out") + (over ? " over" : "");
  // Written only when it changes: the name is a polite live region.
  const name = stateName(st);
  if ($("#agent-status").textContent !== name) $("#agent-status").textContent = name;
  delete $("#agent-status").dataset.i18n;
  $(".state-clock-wrap").hidden = !(st && st.since);
  $("#state-clock").textContent = duration(elapsed(st));
  const limit = st && st.state === "not-ready" && st.limit_seconds != null ? st.limit_seconds : null;
  $("#state-limit").textContent = limit === null ? "" : t("limit").replace("{t}", minutes(limit));
  const alert = $("#over-limit");
  if (over) {
    const code = codeOf(st.code);
    // Written once per state and language: a screen reader hears the alert once, not every
    // second (the running time is on the clock, not in the alert).
    const key = st.since + "|" + getLang();
    if (alert.hidden || alert.dataset.key !== key) {
      alert.dataset.key = key;
      const text = (limit === null ? t("over_limit_nolimit") : t("over_limit_msg"))
        .replace("{code}", code ? label2(code) : st.code)
        .replace("{t}", limit === null ? "" : minutes(limit));
      alert.replaceChildren(el("span", { class: "icon", "aria-hidden": "true" }, "⚠"),
        el("span", {}, el("strong", {}, t("over_limit")), " ", text));
    }
    alert.hidden = false;
  } else {
    alert.hidden = true;
    alert.dataset.key = "";
  }
  document.title = (over ? "⚠ " : "") + t("title") + " · " + name;
  $("#state-hint").hidden = Boolean(state.desk && state.desk.signed_in);
}

// A code with a cap and as many agents in it as the cap allows (the server refuses it).
function isFull(c) { return c.max_agents != null && c.in_use != null && c.in_use >= c.max_agents; }
function fillCounts(key, c) { return t(key).replace("{n}", c.in_use).replace("{max}", c.max_agents); }

// Pay, limit and, for a capped code, how many agents are in it of how many it allows: "2/5"
// on screen, words for a screen reader (which may read "2/5" as a fraction).
function codeMeta(c) {
  const parts = [t(c.paid ? "paid" : "unpaid")];
  if (c.limit_seconds != null) parts.push(t("limit").replace("{t}", minutes(c.limit_seconds)));
  if (c.max_agents != null) {
    parts.push(c.in_use == null ? t("max_agents").replace("{max}", c.max_agents)
      : el("span", { class: "usage" },
        el("span", { "aria-hidden": "true" }, fillCounts("in_use", c)),
        el("span", { class: "sr-only" }, fillCounts("in_use_sr", c))));
  }
  return parts.flatMap((part, i) => (i ? [" · ", part] : [part]));
}

function renderMenu() {
  const desk = state.desk;
  const st = desk ? desk.state : null;
  // Not disabled while a request runs (a disabled button drops the keyboard focus): the menu
  // says it is busy and pick() ignores a second choice meanwhile.
  const off = !desk || !desk.signed_in;
  $("#state-menu").setAttribute("aria-busy", state.busy ? "true" : "false");
  const option = (code, labelText, meta, pressed, extra) => el("button", {
    type: "button", class: "state-option" + (extra || ""), "data-code": code,
    "aria-pressed": pressed ? "true" : "false", disabled: off ? "" : null,
    onclick: () => pick(code),
  }, el("span", { class: "opt-label" }, labelText),
  ...(meta ? [el("span", { class: "opt-meta" }, ...[].concat(meta))] : []));
  const codes = ((desk && desk.codes) || []).filter((c) => c.active !== false);
  const buttons = [option("", t("ready"), t("ready_hint"), st && st.state === "ready", " ready")];
  const notes = [];
  for (const c of codes) {
    const mine = Boolean(st && st.state === "not-ready" && st.code === c.code);
    const button = option(c.code, label2(c), codeMeta(c), mine, "");
    // Full, and not the code the agent is in: not to be picked. aria-disabled rather than
    // disabled: the button keeps its place in the keyboard's path, and a screen reader says
    // why it is unavailable (its description).
    if (!mine && isFull(c)) {
      const note = "full-note-" + c.code;
      notes.push(el("span", { id: note }, fillCounts("code_full_sr", c)));
      button.classList.add("full");
      button.setAttribute("aria-disabled", "true");
      button.setAttribute("aria-describedby", note);
      button.title = fillCounts("code_full_sr", c);
      button.append(el("span", { class: "opt-full" }, t("code_full")));
    }
    buttons.push(button);
  }
  $("#state-menu-notes").replaceChildren(...notes);
  // Keep focus where it was when the menu is drawn again.
  const focused = document.activeElement && document.activeElement.closest("#state-menu")
    ? document.activeElement.dataset.code : null;
  $("#state-menu").replaceChildren(...buttons);
  if (focused !== null) {
    const again = $$("#state-menu button").find((b) => b.dataset.code === focused);
    if (again && !again.disabled) again.focus();
  }
}

// Arrow keys move between the state options (Tab still leaves the group).
$("#state-menu").addEventListener("keydown", (ev) => {
  const keys = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
  if (!(ev.key in keys) && ev.key !== "Home" && ev.key !== "End") return;
  const buttons = $$("#state-menu button:not([disabled])");
  const at = buttons.indexOf(document.activeElement);
  if (at < 0 || !buttons.length) return;
  ev.preventDefault();
  let next = ev.key === "Home" ? 0 : ev.key === "End" ? buttons.length - 1 : at + keys[ev.key];
  next = (next + buttons.length) % buttons.length;
  buttons[next].focus();
});

async function pick(code) {
  if (state.busy) return;
  // A full code (aria-disabled, still focusable) does nothing; its description says why.
  const chosen = codeOf(code);
  const st = state.desk && state.desk.state;
  if (code && chosen && isFull(chosen) && !(st && st.state === "not-ready" && st.code === code)) return;
  state.stateError = null;
  state.busy = true; renderDesk();
  try {
    state.desk = code
      ? await deskApi("POST", "/api/agent/not-ready", { code })
      : await deskApi("POST", "/api/agent/ready", {});
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    state.stateError = refusal(e);
  } finally {
    state.busy = false;
  }
  renderDesk();
}

$("#signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const iface = $("#signin-interface").value.trim();
  if (!iface) return;
  const body = { interface: iface };
  if (!$("#signin-pbx-field").hidden && $("#signin-pbx").value) body.pbx = $("#signin-pbx").value;
  state.signinError = null; state.stateError = null;
  state.busy = true; renderDesk();
  try {
    state.desk = await deskApi("POST", "/api/agent/sign-in", body);
    rememberInterface(iface);
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    state.signinError = refusal(e);
  } finally {
    state.busy = false;
  }
  renderDesk();
  if (state.signinError) $("#signin-interface").focus();
  // Signed in: the keyboard goes on to the state menu, at the state the agent is in.
  else ($("#state-menu button[aria-pressed=true]") || $("#state-menu button")).focus();
});

$("#signout").addEventListener("click", async () => {
  state.signinError = null; state.stateError = null;
  state.busy = true; renderDesk();
  try {
    state.desk = await deskApi("POST", "/api/agent/sign-out", {});
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    state.signinError = refusal(e);
    if (e.error === "not-signed-in") scheduleDesk();
  } finally {
    state.busy = false;
  }
  renderDesk();
  $("#signin-interface").focus();
});

// Every second: the time in state and, past a code's limit, the alert.
setInterval(() => { if (state.user && state.desk) renderState(); }, 1000);
// The codes' counts change as other agents come and go (the socket tells only of one's own
// state): read the desk again now and then while the page is in view, and when it comes back.
setInterval(() => {
  if (state.user && state.desk && state.desk.signed_in && !document.hidden && !state.busy) loadDesk();
}, 30000);
document.addEventListener("visibilitychange", () => { if (!document.hidden && state.user) scheduleDesk(); });

// --- the card -------------------------------------------------------------------------------
function text(id, value) { $("#" + id).textContent = value == null || value === "" ? "—" : String(value); }
function row(values) { return el("tr", {}, ...values.map((v) => el("td", {}, v))); }
function renderCard() {
  const pop = state.current ? state.pops.get(state.current) : null;
  const card = $("#card");
  if (!pop) {
    card.className = "card idle"; $("#card-body").hidden = true;
    $("#card-state").textContent = t("no_call"); $("#call-timer").hidden = true; return;
  }
  card.className = "card " + pop.state;
  $("#card-body").hidden = false;
  $("#card-state").textContent = t("call_" + pop.state);
  $("#card-incomplete").hidden = !pop.incomplete;
  const c = pop.customer;
  $("#card-name").textContent = c ? c.name : t("unknown_caller");
  $("#card-vip").textContent = c && c.vip_level ? "VIP " + c.vip_level : "";
  text("card-number", pop.caller.number + (pop.caller.name ? " (" + pop.caller.name + ")" : ""));
  text("card-account", pop.account || (c && c.account_number));
  text("card-queue", pop.queue);
  text("card-waited", pop.waited_seconds == null ? null : pop.waited_seconds + " " + t("seconds"));
  text("card-ivr", Object.entries(pop.ivr || {}).map(([k, v]) => k + "=" + v).join(", "));
  text("card-tags", c ? c.tags.join(", ") : "");
  text("card-notes", c ? c.notes : "");
  renderOpenItems(pop);
  text("card-crm", pop.crm ? JSON.stringify(pop.crm) : "");
  $("#card-calls tbody").replaceChildren(...pop.calls.map((call) => row([
    new Date(call.joined_at).toLocaleString(), call.queue, t(call.outcome),
    label(call.disposition_label, call.disposition) || "—", call.answered_by || "—"])));
  const timer = $("#call-timer");
  clearInterval(state.timer);
  if (pop.state === "connected" && pop.connected_at) {
    timer.hidden = false;
    const tick = () => {
      const s = Math.max(0, Math.floor((serverNow() - Date.parse(pop.connected_at)) / 1000));
      timer.textContent = String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
    };
    tick(); state.timer = setInterval(tick, 1000);
  } else timer.hidden = true;
}

function label(labels, code) { return labels ? (labels[getLang()] || code) : code; }
const span = (cls, value) => el("span", { class: cls }, value);
// Open items: the caller's follow-ups, most urgent first; overdue ones marked.
function renderOpenItems(pop) {
  const items = pop.open_items || [];
  const total = pop.open_items_total == null ? items.length : pop.open_items_total;
  $("#card-open-count").textContent = String(total);
  $("#card-open-count").className = "pill" + (items.some((i) => i.overdue) ? " off" : "");
  const rows = items.map((item) => {
    const li = el("li", { class: "open-item" + (item.overdue ? " overdue" : ""), "data-call-id": item.call_id });
    li.append(span("due", t("due") + " " + item.due));
    if (item.overdue) li.append(span("overdue-flag", t("overdue_by").replace("{n}", item.days_overdue)));
    li.append(span("disposition", label(item.disposition_label, item.disposition)));
    if (item.notes) li.append(" · ", span("notes", item.notes));
    const meta = t("follow_up") + " · " + t("call_of") + " " + new Date(item.call_at).toLocaleString() +
      (item.answered_by ? " · " + t("answered_by") + " " + item.answered_by : "");
    li.append(el("br"), span("meta", meta));
    return li;
  });
  if (!items.length) rows.push(el("li", { class: "empty" }, t("none")));
  if (total > items.length) rows.push(el("li", { class: "more" }, t("more_items").replace("{n}", total - items.length)));
  $("#card-open-items").replaceChildren(...rows);
  $("#card-open-note").hidden = (pop.open_items_tracked || []).includes("complaint");
}

// --- customer form --------------------------------------------------------------------------
function fillForm(pop) {
  const c = pop.customer;
  $("#cf-id").value = c ? c.id : "";
  $("#cf-name").value = c ? c.name : "";
  $("#cf-phones").value = c ? c.phones.join(", ") : pop.caller.number;
  $("#cf-account").value = c ? (c.account_number || "") : (pop.account || "");
  $("#cf-vip").value = c ? c.vip_level : 0;
  $("#cf-language").value = c ? c.language : getLang();
  $("#cf-tags").value = c ? c.tags.join(", ") : "";
  $("#cf-notes").value = c ? c.notes : "";
  $("#cf-result").textContent = "";
}
$("#customer-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const split = (s) => s.split(/[,，]/).map((x) => x.trim()).filter(Boolean);
  const body = { name: $("#cf-name").value, phones: split($("#cf-phones").value),
    account_number: $("#cf-account").value.trim() || null, vip_level: Number($("#cf-vip").value || 0),
    language: $("#cf-language").value, tags: split($("#cf-tags").value), notes: $("#cf-notes").value };
  const id = $("#cf-id").value;
  let saved;
  try {
    saved = await api(id ? "PUT" : "POST", id ? "/api/customers/" + id : "/api/customers", body);
  } catch (e) {
    $("#cf-result").textContent = e.message;
    return;
  }
  $("#cf-id").value = saved.id; $("#cf-result").textContent = t("saved");
  const pop = state.current ? state.pops.get(state.current) : null;
  if (pop) { pop.customer = saved; pop.known = true; renderCard(); }
});

// --- recent calls ---------------------------------------------------------------------------
function addRecent(pop) {
  const tr = row([new Date(pop.rung_at).toLocaleTimeString(), pop.caller.number,
    pop.customer ? pop.customer.name : "—", pop.queue, t("call_ringing")]);
  tr.dataset.popId = pop.pop_id;
  const body = $("#recent tbody");
  body.insertBefore(tr, body.firstChild);
  while (body.children.length > 50) body.removeChild(body.lastChild);
}
function setRecent(pop, key) {
  const tr = $$("#recent tbody tr").find((r) => r.dataset.popId === pop.pop_id);
  if (tr) tr.lastChild.textContent = t(key);
}

// --- start ----------------------------------------------------------------------------------
applyI18n();
renderCard();
api("GET", "/api/me").then((data) => showConsole(data.user)).catch(() => showLogin());
