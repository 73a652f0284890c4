// The agent console: login, signing in at a phone, the state menu (ready / not-ready codes),
// the screen-pop card, the customer form; the wrap-up form, "my work" (work items), an
// item's detail and actions, callback offers (docs/work-items.md); the transfer panel.
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
    // (Re)connected: what changed while the socket was down comes from the desk, "my work",
    // the callback offered (if any) and the transfer state of the call.
    if (s === "open") { loadDesk(); loadWork(); loadOffer(); loadTransfer(); }
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
onLangChange(() => {
  renderDesk(); renderCard(); renderWork(); renderItem(); fillWrapupChoices(); renderWrapup(); renderOffer();
  renderNotices(); renderTransferNote();
});

// --- login ----------------------------------------------------------------------------------
function showLogin() {
  state.user = null; state.desk = null;
  socket.stop();
  stopWork();
  resetTransfer();
  $("#login-view").hidden = false; $("#console-view").hidden = true; $("#logout").hidden = true;
  $("#desk-links").hidden = true;
  $("#who").textContent = "";
}
function showConsole(user) {
  state.user = user;
  // The profile's language until the user picks one on this browser.
  if (!rememberedLang() && user.language) setLang(user.language, { remember: false });
  $("#login-view").hidden = true; $("#console-view").hidden = false; $("#logout").hidden = false;
  $("#desk-links").hidden = false;
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
  startWork();
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
      msg.pops.forEach((p) => { state.pops.set(p.pop_id, p); loadCardWork(p); });
      state.current = msg.pops.length ? msg.pops[msg.pops.length - 1].pop_id : state.current;
      if (msg.pops.some((p) => p.state === "connected")) callConnected();
      break;
    case "pop":
      state.pops.set(msg.pop.pop_id, msg.pop);
      state.current = msg.pop.pop_id;
      transferNoteMeetsPop(msg.pop);
      addRecent(msg.pop);
      fillForm(msg.pop);
      loadCardWork(msg.pop);
      break;
    case "pop_update": {
      const pop = state.pops.get(msg.pop_id);
      if (pop) { pop.crm = msg.crm; pop.incomplete = msg.incomplete; }
      break;
    }
    case "pop_connected": {
      const pop = state.pops.get(msg.pop_id);
      if (pop) { pop.state = "connected"; pop.connected_at = msg.at; setRecent(pop, "call_connected"); }
      callConnected();
      break;
    }
    case "pop_withdrawn": {
      const pop = state.pops.get(msg.pop_id);
      if (pop) { pop.state = "withdrawn"; pop.reason = msg.reason; setRecent(pop, msg.reason); }
      break;
    }
    case "pop_ended": {
      const pop = state.pops.get(msg.pop_id);
      if (pop) {
        // Only an answered call ends with a pop_ended (a ringing one is withdrawn): its
        // wrap-up form comes up, pre-filled from the card.
        const answered = pop.state === "connected";
        pop.state = "ended"; pop.ended_at = msg.at; setRecent(pop, "call_ended");
        if (answered) queueWrapup({ pbx: pop.pbx, uniqueid: pop.uniqueid, pop });
      }
      break;
    }
    case "work_item":
      workNotice(msg);
      return;
    case "callback_offer":
      showOffer(msg.offer);
      scheduleWork();
      return;
    case "callback_offer_gone":
      offerGone(msg.item_id);
      return;
    case "callback_connected":
      callbackProgress(msg, "connected");
      return;
    case "callback_ended":
      callbackProgress(msg, "ended");
      return;
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
    case "TransferState":
      applyTransferState(msg);
      return;
    case "TransferNote":
      showTransferNote(msg);
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
  "forbidden", "database-unavailable", "invalid-body",
  // wrap-ups and work items
  "unknown-disposition", "not-answered", "not-your-call", "no-such-call", "no-such-item",
  "stale-item", "forbidden-transition", "not-your-item", "item-closed", "due-in-past",
  "unknown-category", "no-such-customer", "nobody-to-call", "no-such-user", "no-such-team",
  "outside-your-teams", "no-owner", "no-record",
  // callbacks
  "no-such-callback", "not-your-offer", "offer-gone", "not-ready", "pbx-unavailable",
  "no-such-attempt", "not-your-callback", "no-call",
  // the abusive-caller button
  "not-on-a-call",
  // the transfer panel
  "transfer-in-progress", "no-such-target", "target-busy", "target-unreachable", "transfer-to-self",
  "no-escalation-target", "nothing-to-complete", "nothing-to-cancel"]);
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
  renderAbusive(pop);
  renderTransfer(pop);
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

// --- the abusive-caller button ------------------------------------------------------------------
// On a connected call: a first press asks to confirm (with an optional note); only the
// confirmation warns the caller, ends the call and starts the agent's short break.
const abusive = { popId: null, open: false, busy: false, done: null, error: null };
function renderAbusive(pop) {
  const id = pop ? pop.pop_id : null;
  if (abusive.popId !== id) Object.assign(abusive, { popId: id, open: false, done: null, error: null });
  const connected = Boolean(pop && pop.state === "connected");
  $("#abusive").hidden = !connected && !abusive.done && !abusive.error;
  $("#abusive-open").hidden = !connected || abusive.open;
  $("#abusive-open").setAttribute("aria-expanded", abusive.open ? "true" : "false");
  $("#abusive-confirm").hidden = !connected || !abusive.open;
  $("#abusive-confirm").setAttribute("aria-busy", abusive.busy ? "true" : "false");
  $("#abusive-result").textContent = abusive.done ? abusiveText(abusive.done) : "";
  showRefusal($("#abusive-error"), abusive.error);
}
function abusiveText(answer) {
  if (answer.break) return t("abusive_done") + " " + t("abusive_break").replace("{t}", minutes(answer.break.seconds));
  return t("abusive_done") + (answer.break_error ? " " + t("abusive_no_break") : "");
}
function closeAbusive(focus) {
  abusive.open = false;
  $("#abusive-note").value = "";
  renderAbusive(state.current ? state.pops.get(state.current) : null);
  if (focus && !$("#abusive-open").hidden) $("#abusive-open").focus();
}
$("#abusive-open").addEventListener("click", () => {
  abusive.open = true; abusive.error = null;
  renderAbusive(state.current ? state.pops.get(state.current) : null);
  // The safe choice has the focus: Enter right after the first press does not confirm.
  $("#abusive-cancel").focus();
});
$("#abusive-cancel").addEventListener("click", () => closeAbusive(true));
$("#abusive-confirm").addEventListener("keydown", (ev) => {
  if (ev.key === "Escape") { ev.preventDefault(); closeAbusive(true); }
});
$("#abusive-yes").addEventListener("click", async () => {
  if (abusive.busy) return;
  const note = $("#abusive-note").value.trim();
  abusive.busy = true; abusive.error = null;
  renderAbusive(state.current ? state.pops.get(state.current) : null);
  try {
    abusive.done = await api("POST", "/api/agent/abusive-caller", note ? { note } : {});
    abusive.open = false;
    $("#abusive-note").value = "";
    scheduleDesk();
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    abusive.error = refusal(e);
  } finally {
    abusive.busy = false;
  }
  renderAbusive(state.current ? state.pops.get(state.current) : null);
});

// --- the transfer panel -------------------------------------------------------------------------
// On a connected call: pass it to a team, a department or a colleague (at once, or after
// talking to them first), bring them into a three-way call, escalate it to the next tier,
// hold and mute. What the PBX is doing comes from GET /api/agent/transfer and every
// TransferState message; the buttons only ask, the server refuses what does not fit.
// A transfer (T) is active in these states; "hold" is the caller on hold, not a transfer.
const XFER_ACTIVE = new Set(["requested", "ringing", "consulting", "conference", "holding"]);
const xfer = {
  popId: null,          // the call the panel is about: the card's pop,
  callUid: null,        // ... and the PBX's call of the console state
  since: null,          // when that call began: an older transfer is not of this call
  console: null,        // { call, active, held, muted, tier, escalation }
  directory: null,      // GET /api/transfers/directory: { targets, people }
  directoryFailed: false, optionsKey: "",
  last: null,           // the last transfer of this call that ended (T), said in words
  busy: false,
  error: null,          // the last refusal: { key, message }
  note: null,           // a TransferNote: the call being passed to this agent
  notePop: null,        // the pop of that call, once it is known
};
// "{x} is busy" with the words filled in (a name with "$" in it stays as it is).
function fill(key, vars) {
  return t(key).replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}
function currentPop() { return state.current ? state.pops.get(state.current) : null; }
function onCall(pop) { return Boolean(pop && pop.state === "connected"); }
// The agent is on a connected call: the card's (as for the abusive-caller button), or one the
// PBX reports without a pop (a call passed to this agent's phone).
function transferCall(pop) { return onCall(pop) || Boolean(xfer.console && xfer.console.call); }
// A new call: nothing of the last one stays (its note, reason, result, refusal).
function newCall(since) {
  Object.assign(xfer, { last: null, error: null, since: since || null });
  $("#transfer-note").value = ""; $("#transfer-reason").value = "";
}
function resetTransfer() {
  Object.assign(xfer, { popId: null, callUid: null, since: null, console: null, directory: null,
    directoryFailed: false, optionsKey: "", last: null, busy: false, error: null, note: null, notePop: null });
  renderTransfer(null); renderTransferNote();
}

// A call was answered: what the PBX says of it, and who it may be passed to now.
function callConnected() { loadTransfer(); loadDirectory(); }
async function loadTransfer() {
  if (!state.user) return;
  let answer;
  try { answer = await api("GET", "/api/agent/transfer"); } catch (e) {
    if (e.status === 401) showLogin();
    return;
  }
  applyTransferState(answer);
}
async function loadDirectory() {
  if (!state.user) return;
  try {
    const answer = await api("GET", "/api/transfers/directory");
    xfer.directory = { targets: (answer && answer.targets) || [], people: (answer && answer.people) || [] };
    xfer.directoryFailed = false;
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    xfer.directoryFailed = !xfer.directory;
  }
  renderTransfer(currentPop());
}
// The people's states move on: read the directory again now and then while the panel shows.
setInterval(() => {
  if (state.user && !document.hidden && !$("#transfer-controls").hidden && !$("#transfer").hidden) loadDirectory();
}, 20000);

// While a transfer is under way its state is read every 2 s as well: the PBX's reports may
// reach another replica of the service, whose messages do not come on this socket.
setInterval(() => {
  const active = xfer.console && xfer.console.active;
  if (state.user && isActive(active)) loadTransfer();
}, 2000);

function isActive(tr) { return Boolean(tr && XFER_ACTIVE.has(tr.state)); }
// A transfer under way (not the caller on hold): the other transfer buttons wait for it.
function moving() {
  const active = xfer.console && xfer.console.active;
  return isActive(active) && active.mode !== "hold" ? active : null;
}
// A transfer that ended is said in words until the next call ("X is busy; you are back...").
function transferEnded(tr) {
  if (tr && !isActive(tr) && tr.mode !== "hold" && ofThisCall(tr)) xfer.last = tr;
}
// The state may still carry the last call's transfer: one asked for before this call began
// is not said on it.
function ofThisCall(tr) {
  const call = xfer.console && xfer.console.call;
  const starts = [xfer.since, call && call.since].map((at) => Date.parse(at || "")).filter((n) => !Number.isNaN(n));
  const asked = Date.parse(tr.requested_at || "");
  return !starts.length || Number.isNaN(asked) || asked >= Math.max(...starts) - 2000;
}
function applyTransferState(msg) {
  if (!msg || typeof msg !== "object") return;
  const { type: _type, ...now } = msg;
  const before = xfer.console && xfer.console.active;
  const uid = now.call ? now.call.pbx + "/" + now.call.uniqueid : null;
  if (uid && uid !== xfer.callUid) {
    if (xfer.callUid !== null) newCall(now.call.since);
    xfer.callUid = uid;
  }
  xfer.console = now;
  if (now.active) transferEnded(now.active);
  if (isActive(before) && before.mode !== "hold" && !now.active && !(xfer.last && xfer.last.id === before.id)) {
    // Gone from the state without an end: said as ended, without a cause we do not know.
    transferEnded({ ...before, state: "done", result: null, detail: null });
  }
  renderTransfer(currentPop());
}
// The answer of a POST that returns the transfer.
function transferAnswer(tr) {
  if (!tr || typeof tr !== "object") return;
  if (!xfer.console) xfer.console = { call: null, active: null, held: false, muted: false, tier: null, escalation: null };
  const active = xfer.console.active;
  if (isActive(tr)) xfer.console.active = tr;
  else {
    transferEnded(tr);
    if (active && active.id === tr.id) xfer.console.active = tr;
  }
  if (isActive(tr) && tr.mode !== "hold") xfer.last = null;
}

// --- names ---
function targetLabel(target) {
  return (getLang() === "en" ? target.label_en || target.label_zh : target.label_zh || target.label_en) || target.slug;
}
function roleName(role) {
  const key = "xfer_role_" + role;
  const name = t(key);
  return name === key ? role : name;
}
function escalationName(escalation) {
  if (!escalation) return "";
  if (escalation.kind === "team-leader") return fill("xfer_esc_tl", { name: escalation.name || "" });
  return targetLabel(escalation);
}
// Whom a transfer went to, in the page's language when the directory knows the target.
function transferWho(tr) {
  if (tr.target_kind === "target" && xfer.directory) {
    const found = xfer.directory.targets.find((x) => x.slug === tr.target_ref);
    if (found) return targetLabel(found);
  }
  return tr.target_label || tr.target_ref || "?";
}
// A transfer in words: under way ("calling X…") or how it ended ("X is busy; …").
function transferWords(tr) {
  const x = transferWho(tr);
  let key;
  if (isActive(tr)) {
    key = {
      blind: "xfer_s_blind",
      warm: tr.state === "consulting" ? "xfer_s_consulting" : "xfer_s_calling",
      conference: tr.state === "conference" ? "xfer_s_conference" : "xfer_s_conf_calling",
      hold: "xfer_s_holding",
    }[tr.mode] || "xfer_s_calling";
  } else {
    const result = tr.result || "none";
    key = tr.mode === "conference" && ["completed", "cancelled"].includes(result) ? "xfer_r_conf_" + result : "xfer_r_" + result;
    if (t(key) === key) key = "xfer_r_none";
  }
  let words = fill(key, { x });
  if (!isActive(tr) && tr.result === "pbx-refused" && tr.detail) words += " " + fill("xfer_detail", { detail: tr.detail });
  return (tr.escalation ? t("xfer_escalation") : "") + words;
}
function modeName(mode) {
  const key = "xfer_mode_" + mode;
  return t(key) === key ? mode || "" : t(key);
}

// --- the panel ---
function renderTransfer(pop) {
  const id = pop ? pop.pop_id : null;
  if (xfer.popId !== id) {
    xfer.popId = id;
    newCall(pop && pop.rung_at);
  }
  const section = $("#transfer");
  const hadFocus = section.contains(document.activeElement) ? document.activeElement : null;
  const connected = transferCall(pop);
  const cs = xfer.console;
  const going = moving();
  section.hidden = !connected && !going && !xfer.last && !xfer.error;
  section.setAttribute("aria-busy", xfer.busy ? "true" : "false");
  $("#transfer-controls").hidden = !connected;
  if (connected) renderTargets(pop);

  const held = Boolean(cs && cs.held);
  const muted = Boolean(cs && cs.muted);
  $("#transfer-held").hidden = !connected || !held;
  $("#transfer-muted").hidden = !connected || !muted;
  for (const btnId of ["#transfer-blind", "#transfer-warm", "#transfer-conference"]) $(btnId).disabled = Boolean(going);
  const escalation = cs ? cs.escalation : null;
  $("#transfer-escalate").disabled = Boolean(going) || !escalation;
  const tier = cs && cs.tier != null ? fill("xfer_tier_now", { n: cs.tier }) + " · " : "";
  $("#transfer-escalate-to").textContent = tier + (escalation
    ? fill("xfer_esc_to", { x: escalationName(escalation) }) : t("xfer_esc_none"));
  setLabel($("#transfer-hold"), held ? "xfer_resume" : "xfer_hold");
  $("#transfer-hold").disabled = Boolean(going);
  setLabel($("#transfer-mute"), muted ? "xfer_unmute" : "xfer_mute");

  // A consultation or a three-way call under way: complete it, or go back to the caller.
  const twoWay = going && (going.mode === "warm" || going.mode === "conference");
  $("#transfer-active").hidden = !twoWay;
  $("#transfer-complete").hidden = !twoWay || going.mode !== "warm";
  $("#transfer-complete").disabled = !twoWay || going.state !== "consulting";
  setLabel($("#transfer-cancel"), twoWay && going.mode === "conference" ? "xfer_conf_end" : "xfer_cancel");

  // The live status: written only when it changes (a screen reader hears it once).
  const lines = [];
  if (going) lines.push(transferWords(going));
  else if (xfer.last) lines.push(transferWords(xfer.last));
  if (!going && connected && held) lines.push(t("xfer_s_holding"));
  const words = lines.join(" ");
  if ($("#transfer-status").textContent !== words) $("#transfer-status").textContent = words;
  $("#transfer-status").className = "transfer-status" + (going ? " going" : xfer.last ? " result-" + (xfer.last.result || "none") : "");
  showRefusal($("#transfer-error"), xfer.error);

  // The button that had the keyboard is gone or disabled: the next useful place has it.
  if (hadFocus && (hadFocus.disabled || hadFocus.closest("[hidden]"))) {
    const next = ["#transfer-cancel", "#transfer-complete", "#transfer-title"].map((sel) => $(sel))
      .find((node) => !node.disabled && !node.closest("[hidden]"));
    (next || $("#card-title")).focus();
  }
}
function setLabel(button, key) {
  if (button.dataset.i18n !== key || button.textContent !== t(key)) {
    button.dataset.i18n = key;
    button.textContent = t(key);
  }
}
// Queues the caller may be put back into: the call's own, then the agent's own on its PBX.
function transferQueues(pop) {
  const call = xfer.console && xfer.console.call;
  const pbx = (call && call.pbx) || (pop && pop.pbx) || null;
  const names = [call && call.queue, pop && pop.queue,
    ...((state.desk && state.desk.queues) || []).filter((q) => !pbx || !q.pbx || q.pbx === pbx).map((q) => q.queue)];
  return [...new Set(names.filter(Boolean))];
}
// Colleagues in these roles are passed a call as "supervisor", everyone else as "agent".
const SUPERVISING = new Set(["team_leader", "supervisor", "admin"]);
const PEOPLE_ORDER = { ready: 0, acw: 1, "not-ready": 2, "on-call": 3, "signed-out": 4 };
function renderTargets(pop) {
  const select = $("#transfer-target");
  const dir = xfer.directory || { targets: [], people: [] };
  const queues = transferQueues(pop);
  const key = JSON.stringify([getLang(), dir, queues, xfer.directoryFailed]);
  if (xfer.optionsKey === key) return;
  xfer.optionsKey = key;
  const keep = select.value;
  const options = [el("option", { value: "" }, t("xfer_choose"))];
  if (xfer.directoryFailed) options.push(el("option", { value: "", disabled: "" }, t("xfer_dir_failed")));
  // Teams and departments, tier by tier (first line, specialists, management).
  const tiers = [...new Set(dir.targets.map((x) => x.tier))].sort((a, b) => a - b);
  for (const tier of tiers) {
    const list = dir.targets.filter((x) => x.tier === tier)
      .sort((a, b) => targetLabel(a).localeCompare(targetLabel(b), getLang()));
    options.push(el("optgroup", { label: fill("xfer_tier", { n: tier }) },
      ...list.map((x) => el("option", { value: "target:" + x.slug }, targetLabel(x)))));
  }
  if (queues.length) {
    options.push(el("optgroup", { label: t("xfer_queues") },
      ...queues.map((q) => el("option", { value: "queue:" + q }, fill("xfer_queue_opt", { q })))));
  }
  // Colleagues at a phone: on a call or not reachable, shown but not to be picked.
  const people = [...dir.people].sort((a, b) => (!a.reachable - !b.reachable)
    || ((PEOPLE_ORDER[a.state] ?? 9) - (PEOPLE_ORDER[b.state] ?? 9)) || String(a.name).localeCompare(String(b.name), getLang()));
  if (people.length) {
    options.push(el("optgroup", { label: t("xfer_people") }, ...people.map((p) => {
      const off = !p.reachable || p.state === "on-call";
      const kind = SUPERVISING.has(p.role) ? "supervisor" : "agent";
      const role = p.role && p.role !== "agent" ? " · " + roleName(p.role) : "";
      const where = t("st_" + p.state) + (p.reachable ? "" : " · " + t("xfer_unreachable"));
      return el("option", { value: kind + ":" + p.user_id, disabled: off ? "" : null }, `${p.name}${role} (${where})`);
    })));
  }
  select.replaceChildren(...options);
  const again = $$("option", select).find((o) => o.value === keep && !o.disabled);
  select.value = again ? keep : "";
}

// --- the buttons ---
function pickedTarget() {
  const value = $("#transfer-target").value;
  const at = value.indexOf(":");
  return at > 0 ? { kind: value.slice(0, at), ref: value.slice(at + 1) } : null;
}
function transferFails(key, focus) {
  xfer.error = { key, message: "" };
  renderTransfer(currentPop());
  $(focus).focus();
}
// One request of the panel: refused, it says why and reads the state again (it may have
// moved on meanwhile); answered, `then` takes the answer.
async function transferRequest(path, body, then) {
  if (xfer.busy) return;
  xfer.busy = true; xfer.error = null;
  renderTransfer(currentPop());
  try {
    then(await api("POST", path, body));
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    xfer.error = e.error === "invalid-body" ? { key: "err_xfer_invalid", message: e.message || "" } : refusal(e);
    if (e.status === 409) loadTransfer();
    if (e.error === "target-busy" || e.error === "target-unreachable" || e.error === "no-such-target") loadDirectory();
  } finally {
    xfer.busy = false;
  }
  renderTransfer(currentPop());
}
function startTransfer(mode) {
  const to = pickedTarget();
  if (!to) { transferFails("err_xfer_no_target", "#transfer-target"); return; }
  const note = $("#transfer-note").value.trim();
  const reason = $("#transfer-reason").value.trim();
  if (mode === "conference") transferRequest("/api/agent/conference", { to, note }, transferAnswer);
  else transferRequest("/api/agent/transfer", { mode, to, note, reason }, transferAnswer);
}
$("#transfer-blind").addEventListener("click", () => startTransfer("blind"));
$("#transfer-warm").addEventListener("click", () => startTransfer("warm"));
$("#transfer-conference").addEventListener("click", () => startTransfer("conference"));
$("#transfer-escalate").addEventListener("click", () => {
  const reason = $("#transfer-reason").value.trim();
  if (!reason) { transferFails("err_xfer_reason_required", "#transfer-reason"); return; }
  transferRequest("/api/agent/escalate", { reason, note: $("#transfer-note").value.trim() }, transferAnswer);
});
$("#transfer-complete").addEventListener("click", () => transferRequest("/api/agent/transfer/complete", {}, transferAnswer));
$("#transfer-cancel").addEventListener("click", () => transferRequest("/api/agent/transfer/cancel", {}, transferAnswer));
$("#transfer-hold").addEventListener("click", () => {
  transferRequest("/api/agent/hold", { on: !(xfer.console && xfer.console.held) }, applyTransferState);
});
$("#transfer-mute").addEventListener("click", () => {
  transferRequest("/api/agent/mute", { on: !(xfer.console && xfer.console.muted) }, applyTransferState);
});

// --- a call passed to this agent ---
function digits(number) { return String(number || "").replace(/\D/g, ""); }
function noteFits(pop, note) {
  return !digits(note.caller_num) || digits(pop.caller && pop.caller.number) === digits(note.caller_num);
}
function showTransferNote(msg) {
  const { type: _type, ...note } = msg;
  const pop = currentPop();
  xfer.note = note;
  xfer.notePop = pop && (pop.state === "ringing" || pop.state === "connected") && noteFits(pop, note) ? pop.pop_id : null;
  renderTransferNote();
  $("#transfer-note-in").scrollIntoView({ block: "nearest" });
}
// A new pop: the passed call's own keeps the note; the next call clears it.
function transferNoteMeetsPop(pop) {
  if (!xfer.note || xfer.notePop === pop.pop_id) return;
  if (xfer.notePop === null && noteFits(pop, xfer.note)) { xfer.notePop = pop.pop_id; return; }
  xfer.note = null; xfer.notePop = null;
  renderTransferNote();
}
function renderTransferNote() {
  const panel = $("#transfer-note-in");
  const box = $("#transfer-note-in-text");
  const note = xfer.note;
  if (!note) { panel.hidden = true; box.replaceChildren(); return; }
  if (panel.hidden) {
    // The live region is shown empty first, then filled: a screen reader hears the news.
    panel.hidden = false;
    box.replaceChildren();
    setTimeout(renderTransferNote, 60);
    return;
  }
  const from = note.from_name || t("unknown");
  const head = note.reason ? fill("xfer_in_by", { from, reason: note.reason }) : fill("xfer_in_by_noreason", { from });
  const facts = el("dl", { class: "transfer-note-facts" });
  const fact = (key, value) => { if (value) facts.append(el("dt", {}, t(key)), el("dd", {}, value)); };
  fact("xfer_in_caller", [note.caller_num, note.caller_name].filter(Boolean).join(" · "));
  fact("customer_label", note.customer_name);
  fact("xfer_in_to", note.target_label);
  fact("queue", note.queue);
  fact("xfer_in_mode", modeName(note.mode));
  const parts = [el("p", { class: "transfer-note-head" }, head)];
  if (note.note) parts.push(el("p", { class: "transfer-note-body" }, note.note));
  parts.push(facts);
  box.replaceChildren(...parts);
}
$("#transfer-note-in-dismiss").addEventListener("click", () => {
  xfer.note = null; xfer.notePop = null;
  renderTransferNote();
  $("#card-title").focus();
});

function label(labels, code) { return labels ? (labels[getLang()] || code) : code; }
const span = (cls, value) => el("span", { class: cls }, value);
// Open items: the caller's open work items (ticket, kind, deadline, owner), then the
// follow-up dates of earlier wrap-ups, most urgent first; overdue ones marked.
function renderOpenItems(pop) {
  const items = pop.open_items || [];
  const workItems = pop.work_items || [];
  const total = (pop.open_items_total == null ? items.length : pop.open_items_total) + workItems.length;
  const overdue = items.some((i) => i.overdue) || workItems.some((i) => i.overdue);
  $("#card-open-count").textContent = String(total);
  $("#card-open-count").className = "pill" + (overdue ? " off" : "");
  $("#card-work-items").replaceChildren(...workItems.map(cardWorkItem));
  $("#card-work-items").hidden = !workItems.length;
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
  const followUps = pop.open_items_total == null ? items.length : pop.open_items_total;
  if (!items.length && !workItems.length) rows.push(el("li", { class: "empty" }, t("none")));
  if (followUps > items.length) rows.push(el("li", { class: "more" }, t("more_items").replace("{n}", followUps - items.length)));
  $("#card-open-items").replaceChildren(...rows);
  $("#card-open-items").hidden = !rows.length;
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
  if (pop) { pop.customer = saved; pop.known = true; renderCard(); loadCardWork(pop); }
});

// --- recent calls ---------------------------------------------------------------------------
function addRecent(pop) {
  const tr = row([new Date(pop.rung_at).toLocaleTimeString(), pop.caller.number,
    pop.customer ? pop.customer.name : "—", pop.queue, t("call_ringing")]);
  tr.dataset.popId = pop.pop_id;
  tr.lastChild.dataset.i18n = "call_ringing";  // translated again on a language switch
  const body = $("#recent tbody");
  body.insertBefore(tr, body.firstChild);
  while (body.children.length > 50) body.removeChild(body.lastChild);
}
function setRecent(pop, key) {
  const tr = $$("#recent tbody tr").find((r) => r.dataset.popId === pop.pop_id);
  if (tr) { tr.lastChild.dataset.i18n = key; tr.lastChild.textContent = t(key); }
}

// --- work items: what the console knows --------------------------------------------------------
const work = {
  options: null,        // GET /api/work/options: kinds, categories, users, teams, transitions, me
  dispositions: [],     // GET /api/dispositions
  mine: null,           // GET /api/work/mine: { items, pool, counts, now }
  mineError: null,
  item: null,           // the item open in the detail (GET /api/work/items/{id})
  itemError: null, itemResult: null, stale: false, busy: false, loadingItem: null,
  notices: [],          // the last notices of work_item messages: { at, event, tier, item }
  offer: null,          // the callback offered now: { offer, detail, error, busy }
  timer: null,
  dueTimer: null,       // "my work" read again just after the next deadline
};
const wrap = {
  current: null,        // the call in the form: { pbx, uniqueid, pop, call, callId, callback, ... }
  queue: [],            // ended calls waiting for the form
  pending: [],          // my answered calls of the last hours without a wrap-up (call records)
  done: null,           // what the last submit did: { ticket, id }
  busy: false, error: null,
};
const WORK_KINDS = ["complaint", "follow-up", "callback", "inquiry"];
const PRIORITIES = ["urgent", "high", "normal", "low"];
const CLOSED = new Set(["resolved", "closed"]);
const PENDING_HOURS = 12;
const PHONE = /^\+?[0-9]{1,39}$/;

function may(permission) { return Boolean(state.user && (state.user.permissions || []).includes(permission)); }
function me() { return work.options ? work.options.me : state.user && state.user.id; }
// el() with children that may be lists (of nodes, texts, nulls): flattened.
const h = (tag, attrs, ...children) => el(tag, attrs, ...children.flat(3));
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });
// A number the work-items API takes (digits, a leading +), or null.
function cleanPhone(number) {
  const cleaned = String(number || "").replace(/[\s()-]/g, "");
  return PHONE.test(cleaned) ? cleaned : null;
}

// --- names in the user's language ---------------------------------------------------------
const kindName = (kind) => t("kind_" + kind);
const statusName = (status) => t("status_" + status);
const prioName = (priority) => t("prio_" + priority);
function categoryName(code) {
  const found = ((work.options && work.options.categories) || []).find((c) => c.code === code);
  return found ? label2(found) : code;
}
function teamLabel(team) {
  return (getLang() === "en" ? team.label_en || team.label_zh : team.label_zh || team.label_en) || team.name;
}
function teamName(id) {
  const found = ((work.options && work.options.teams) || []).find((team) => team.id === id);
  return found ? teamLabel(found) : "#" + id;
}
function userName(id) {
  const found = ((work.options && work.options.users) || []).find((u) => u.id === id);
  return found ? found.name : "#" + id;
}
function departmentName(code) {
  const found = ((work.options && work.options.departments) || []).find((d) => d.code === code);
  return found ? label2(found) : code;
}
function ownerText(ownerId, ownerName, teamId, teamNameText) {
  if (ownerId != null) return ownerName || userName(ownerId);
  if (teamId != null) return t("pool_of").replace("{team}", teamNameText || teamName(teamId));
  return t("nobody");
}

// --- times ------------------------------------------------------------------------------------
// "today 09:20", "tomorrow 17:00", "12-03 10:00" (the year only when it is not this one).
function when(iso) {
  if (!iso) return "—";
  const at = new Date(iso);
  const two = (n) => String(n).padStart(2, "0");
  const clock = `${two(at.getHours())}:${two(at.getMinutes())}`;
  const now = new Date(serverNow());
  const day = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((day(at) - day(now)) / 86400000);
  if (days === 0) return t("today_at").replace("{t}", clock);
  if (days === 1) return t("tomorrow_at").replace("{t}", clock);
  if (days === -1) return t("yesterday_at").replace("{t}", clock);
  const date = `${two(at.getMonth() + 1)}-${two(at.getDate())}`;
  return (at.getFullYear() === now.getFullYear() ? date : `${at.getFullYear()}-${date}`) + " " + clock;
}
function timeEl(iso) { return el("time", { datetime: iso || "" }, when(iso)); }
// A span of time, coarse: "12 min", "3 h 5 min", "2 d 4 h".
function lasting(seconds) {
  if (seconds < 60) return t("t_under_min");
  const m = Math.round(seconds / 60);
  if (m < 60) return t("t_min").replace("{m}", m);
  const h = Math.floor(m / 60);
  if (h < 48) return t("t_h_min").replace("{h}", h).replace("{m}", m % 60);
  return t("t_d_h").replace("{d}", Math.floor(h / 24)).replace("{h}", h % 24);
}
// The deadline as words: { text, overdue }.
function deadline(item) {
  if (CLOSED.has(item.status)) return { text: t("resolved_when").replace("{t}", when(item.resolved_at)), overdue: false };
  if (item.waiting) {
    return { text: item.remaining_seconds == null ? t("clock_stopped")
      : t("clock_stopped_left").replace("{t}", lasting(item.remaining_seconds)), overdue: false };
  }
  if (!item.due_at) return { text: t("no_deadline"), overdue: false };
  const left = (Date.parse(item.due_at) - serverNow()) / 1000;
  if (item.overdue || left < 0) {
    return { text: t("overdue_for").replace("{t}", lasting(-left)).replace("{at}", when(item.due_at)), overdue: true };
  }
  return { text: t("due_in").replace("{t}", lasting(left)).replace("{at}", when(item.due_at)), overdue: false };
}
// Marked by words and a sign, not by colour alone.
function overdueBadge() { return el("span", { class: "badge overdue" }, "⚠ " + t("overdue")); }
function kindBadge(kind) { return el("span", { class: "badge kind kind-" + kind }, kindName(kind)); }
function prioBadge(priority) { return el("span", { class: "badge prio prio-" + priority }, prioName(priority)); }
function statusBadge(status) { return el("span", { class: "badge status status-" + status }, statusName(status)); }

// --- start, stop, refresh -------------------------------------------------------------------
function startWork() {
  const own = may("work:own");
  $("#work-row").hidden = !own;
  loadWorkSetup().then(() => { fillWrapupChoices(); renderWrapup(); renderWork(); renderItem(); renderCard(); });
  loadWork();
  loadOffer();
  loadPending();
  clearInterval(work.timer);
  // Every minute: "my work" (deadlines move on, and pool items come and go).
  work.timer = setInterval(() => { if (state.user && !document.hidden) loadWork(); }, 60000);
}
function stopWork() {
  clearInterval(work.timer);
  clearTimeout(work.dueTimer);
  work.mine = null; work.item = null; work.offer = null; work.notices = [];
  wrap.current = null; wrap.queue = []; wrap.pending = []; wrap.done = null;
  renderWork(); renderItem(); renderWrapup(); renderOffer(); renderNotices();
}
async function loadWorkSetup() {
  const [options, dispositions] = await Promise.all([
    api("GET", "/api/work/options").catch(() => null),
    api("GET", "/api/dispositions").catch(() => null),
  ]);
  if (options) work.options = options;
  if (dispositions) work.dispositions = dispositions.dispositions || [];
}

let workTimer = null;
function scheduleWork() {
  if (workTimer) return;
  workTimer = setTimeout(() => { workTimer = null; loadWork(); }, 300);
}
async function loadWork() {
  if (!may("work:own")) return;
  const sentAt = Date.now();
  try {
    work.mine = await api("GET", "/api/work/mine");
    noteServerClock(work.mine, sentAt);
    work.mineError = null;
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    work.mineError = refusal(e);
  }
  if (!work.options) await loadWorkSetup();
  renderWork();
  reloadAtNextDeadline();
}
// An item turns overdue while on screen: "my work" is read again just after its deadline,
// so the mark and the counts do not wait for the minute's refresh.
function reloadAtNextDeadline() {
  clearTimeout(work.dueTimer);
  const mine = work.mine;
  if (!mine) return;
  const now = serverNow();
  const next = [...(mine.items || []), ...(mine.pool || [])]
    .map((item) => (item.due_at ? Date.parse(item.due_at) : NaN))
    .filter((at) => at > now)
    .reduce((a, b) => Math.min(a, b), Infinity);
  if (next - now < 60000) work.dueTimer = setTimeout(scheduleWork, next - now + 500);
}

// --- "my work" ------------------------------------------------------------------------------
function renderWork() {
  const mine = work.mine;
  const counts = (mine && mine.counts) || { open: 0, overdue: 0, due_today: 0, waiting: 0 };
  const count = (key, value, cls) => [el("dt", {}, t("count_" + key)),
    el("dd", { class: cls || null }, String(value), cls ? el("span", { class: "sr-only" }, " " + t("count_attention")) : null)];
  $("#work-counts").replaceChildren(
    ...count("open", counts.open), ...count("overdue", counts.overdue, counts.overdue ? "bad" : ""),
    ...count("due_today", counts.due_today), ...count("waiting", counts.waiting));
  showRefusal($("#work-error"), work.mineError);
  const items = (mine && mine.items) || [];
  const pool = (mine && mine.pool) || [];
  // Drawn again every minute and on every notice: the keyboard focus stays where it was.
  const focused = document.activeElement && document.activeElement.closest(".work-entry");
  const again = focused ? [focused.dataset.id, document.activeElement.className] : null;
  $("#my-items").replaceChildren(...(items.length ? items.map((i) => workEntry(i, false))
    : [el("li", { class: "empty" }, t("no_items"))]));
  $("#pool-items").replaceChildren(...(pool.length ? pool.map((i) => workEntry(i, true))
    : [el("li", { class: "empty" }, t("no_pool"))]));
  if (again && !document.activeElement.closest(".work-entry")) {
    const entry = $$(".work-list .work-entry").find((li) => li.dataset.id === again[0]);
    const target = entry && ($("." + again[1].split(" ")[0], entry) || $(".entry-open", entry));
    if (target) target.focus();
  }
}
function workEntry(item, inPool) {
  const due = deadline(item);
  const li = el("li", { class: "work-entry" + (due.overdue ? " overdue" : "") + (item.waiting ? " waiting" : ""),
    "data-id": item.id, "data-ticket": item.ticket });
  const who = item.customer_name || item.phone || "";
  const open = el("button", {
    type: "button", class: "entry-open", "aria-current": work.item && work.item.id === item.id ? "true" : null,
    onclick: () => openItem(item.id),
  },
  h("span", { class: "entry-head" }, el("span", { class: "ticket" }, item.ticket), " ", kindBadge(item.kind),
    item.priority !== "normal" ? [" ", prioBadge(item.priority)] : null, due.overdue ? [" ", overdueBadge()] : null),
  el("span", { class: "entry-title" }, item.title),
  el("span", { class: "entry-meta" }, [statusName(item.status), who, due.text].filter(Boolean).join(" · ")));
  li.append(open);
  if (inPool) {
    li.append(el("button", { type: "button", class: "take", "aria-label": t("take") + " " + item.ticket,
      onclick: () => takeItem(item) }, t("take")));
  }
  return li;
}
$("#work-refresh").addEventListener("click", () => loadWork());

async function takeItem(item) {
  work.itemError = null;
  try {
    work.item = await api("POST", `/api/work/items/${item.id}/take`, { version: item.version });
    work.stale = false; work.itemResult = "done_take";
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    work.mineError = refusal(e);
    if (e.error === "stale-item" || e.error === "not-your-item" || e.error === "item-closed") work.mineError.key = "err_taken_meanwhile";
    renderWork();
    loadWork();
    return;
  }
  loadWork();
  showItem(true);
}

// --- notices (work_item messages: assigned, escalated, a department's reply) --------------
function workNotice(msg) {
  const item = msg.item || {};
  addNotice({ event: msg.event, tier: msg.tier, item });
  scheduleWork();
  if (work.item && work.item.id === item.id && !work.busy) refreshItem();
  refreshCardWork();
}
function addNotice(fields) {
  const notice = { at: new Date(serverNow()).toISOString(), ...fields };
  work.notices.unshift(notice);
  work.notices.length = Math.min(work.notices.length, 4);
  // Added on top of what is there: a screen reader hears only the new line.
  const region = $("#work-notices");
  region.prepend(noticeEl(notice));
  while (region.children.length > work.notices.length) region.lastChild.remove();
}
function noticeText(notice) {
  const key = "notice_" + notice.event;
  const text = t(key) === key ? t("notice_other") : t(key);
  return text.replace("{ticket}", notice.item.ticket || "").replace("{title}", notice.item.title || "")
    .replace("{tier}", notice.tier ? t("tier_" + notice.tier) : "").replace("{reason}", notice.reason || "");
}
function noticeEl(notice) {
  return el("p", { class: "notice notice-" + notice.event },
    el("span", { class: "notice-time" }, when(notice.at)), " ", el("span", { class: "notice-text" }, noticeText(notice)), " ",
    notice.item.id ? el("button", { type: "button", class: "small", onclick: () => openItem(notice.item.id) }, t("open_item")) : null,
    el("button", { type: "button", class: "small", "aria-label": t("dismiss") + ": " + noticeText(notice),
      onclick: () => { work.notices = work.notices.filter((n) => n !== notice); renderNotices(); } }, "×"));
}
function renderNotices() { $("#work-notices").replaceChildren(...work.notices.map(noticeEl)); }

// --- the item's detail ----------------------------------------------------------------------
async function openItem(id) {
  work.stale = false; work.itemError = null; work.itemResult = null;
  $("#item-resolve-form").hidden = true; $("#item-assign-form").hidden = true;
  work.loadingItem = id;
  try {
    work.item = await api("GET", "/api/work/items/" + id);
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    work.item = null;
    work.itemError = refusal(e);
  }
  work.loadingItem = null;
  showItem(true);
}
function showItem(focus) {
  $("#work-row").hidden = false;
  renderItem(); renderWork();
  if (focus) $("#item-title").focus();
}
async function refreshItem() {
  if (!work.item) return;
  try { work.item = await api("GET", "/api/work/items/" + work.item.id); } catch (_) { return; }
  renderItem();
}
$("#item-close").addEventListener("click", () => {
  const id = work.item && work.item.id;
  work.item = null; work.itemError = null; renderItem(); renderWork();
  const back = id && $(`#my-items li[data-id="${id}"] .entry-open, #pool-items li[data-id="${id}"] .entry-open`);
  (back || $("#my-work-title")).focus();
});

// A change that names the version it saw; a stale one reloads the item and says so.
async function itemChange(path, body, doneKey) {
  const item = work.item;
  if (!item || work.busy) return false;
  work.busy = true; work.itemError = null; work.itemResult = null; work.stale = false;
  $("#item-actions").setAttribute("aria-busy", "true");
  let ok = false;
  try {
    work.item = await api("POST", `/api/work/items/${item.id}/${path}`, body);
    work.itemResult = doneKey;
    ok = true;
  } catch (e) {
    if (e.status === 401) { showLogin(); return false; }
    if (e.error === "stale-item") {
      work.stale = true;
      if (e.body && e.body.item) work.item = { ...work.item, ...e.body.item };
      try { work.item = await api("GET", "/api/work/items/" + item.id); } catch (_) { /* the answer's copy stays */ }
    } else work.itemError = refusal(e);
  } finally {
    work.busy = false;
    $("#item-actions").setAttribute("aria-busy", "false");
  }
  renderItem(); scheduleWork(); refreshCardWork();
  if (work.stale) $("#item-stale").focus();
  else keepFocusInItem();
  return ok;
}
// The button that had the focus was drawn again (or its form closed): back to the item.
function keepFocusInItem() {
  const at = document.activeElement;
  if (!at || at === document.body || !at.isConnected || at.closest("[hidden]")) $("#item-title").focus();
}

function setStatus(status) {
  if (status === "resolved") {
    $("#item-resolve-form").hidden = false; $("#item-resolution").focus(); return;
  }
  itemChange("status", { version: work.item.version, status }, "done_status");
}
$("#item-resolve-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const resolution = $("#item-resolution").value.trim();
  if (!resolution) { $("#item-resolution").focus(); return; }
  const ok = await itemChange("status", { version: work.item.version, status: "resolved", resolution }, "done_resolved");
  if (ok) { $("#item-resolution").value = ""; $("#item-resolve-form").hidden = true; keepFocusInItem(); }
});
$("#item-resolve-cancel").addEventListener("click", () => {
  $("#item-resolve-form").hidden = true;
  ($('#item-status-buttons button[data-action="resolved"]') || $("#item-title")).focus();
});
$("#item-assign-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const [what, id] = $("#item-assign-to").value.split(":");
  if (!id) { $("#item-assign-to").focus(); return; }
  const body = { version: work.item.version, note: $("#item-assign-note").value.trim() };
  body[what === "team" ? "team_id" : "owner_id"] = Number(id);
  const ok = await itemChange("assign", body, "done_assigned");
  if (ok) { $("#item-assign-note").value = ""; $("#item-assign-form").hidden = true; keepFocusInItem(); }
});
$("#item-note-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("#item-note").value.trim();
  if (!text) { $("#item-note").focus(); return; }
  if (!work.item || work.busy) return;
  work.busy = true; work.itemError = null; work.itemResult = null; work.stale = false;
  try {
    work.item = await api("POST", `/api/work/items/${work.item.id}/notes`, { text });
    work.itemResult = "done_note";
    $("#item-note").value = "";
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    work.itemError = refusal(e);
  } finally { work.busy = false; }
  renderItem(); scheduleWork();
});

function statusButtonText(from, to) {
  if (to === "in-progress") return t(from === "open" ? "act_start" : CLOSED.has(from) ? "act_reopen" : "act_resume");
  return t("act_" + to);
}
function renderItem() {
  const item = work.item;
  const empty = !item && !work.itemError;
  $("#item").classList.toggle("empty", empty);
  for (const node of $$("#item > :not(#item-title)")) node.hidden = empty;
  if (empty) {
    $("#item-title").textContent = t("item_none");
    return;
  }
  showRefusal($("#item-error"), work.itemError);
  if (!item) {
    $("#item-title").textContent = t("item_unavailable");
    for (const node of $$("#item > :not(#item-title):not(#item-error):not(.buttons)")) node.hidden = true;
    return;
  }
  $("#item-actions").hidden = false;
  $("#item-title").replaceChildren(el("span", { class: "ticket" }, t("ticket") + " " + item.ticket), " ", item.title);
  const stale = $("#item-stale");
  stale.hidden = !work.stale;
  stale.tabIndex = -1;
  stale.textContent = work.stale ? t("stale_reloaded") : "";
  $("#item-result").textContent = work.itemResult ? t(work.itemResult) : "";
  const due = deadline(item);
  $("#item-badges").replaceChildren(...[kindBadge(item.kind), " ", statusBadge(item.status), " ", prioBadge(item.priority),
    due.overdue ? [" ", overdueBadge()] : "", item.escalation_tier ? [" ", el("span", { class: "badge escalated" },
      t("escalated_n").replace("{n}", item.escalations))] : ""].flat());
  const fields = [
    ["customer_label", item.customer_name || (item.customer_id ? "#" + item.customer_id : "—")],
    ["callback_number", item.phone || "—"],
    ["category", categoryName(item.category)],
    ["owner", ownerText(item.owner_id, item.owner_name, null, null)],
    ["team", item.team_id != null ? (work.options ? teamName(item.team_id) : item.team_name) : "—"],
    ["deadline", due.text],
    ["first_response", item.first_response_at ? t("answered_when").replace("{t}", when(item.first_response_at))
      : item.first_response_due ? t("due_when").replace("{t}", when(item.first_response_due)) : "—"],
    ["created", when(item.created_at)],
  ];
  if (item.resolution) fields.push(["resolution", item.resolution]);
  $("#item-fields").replaceChildren(...fields.flatMap(([key, value]) => [el("dt", {}, t(key)),
    el("dd", { class: key === "deadline" && due.overdue ? "overdue-text" : null }, due.overdue && key === "deadline" ? "⚠ " + value : value)]));

  // What the user may do with it.
  const mine = item.owner_id === me();
  const supervise = may("work:supervise");
  const open = !CLOSED.has(item.status);
  const canChange = mine || supervise;
  const buttons = [];
  if (open && !mine && (item.owner_id == null || supervise)) {
    buttons.push(el("button", { type: "button", class: "primary", "data-action": "take",
      onclick: () => itemChange("take", { version: work.item.version }, "done_take") }, t("take")));
  }
  const transitions = (work.options && work.options.transitions && work.options.transitions[item.status]) || [];
  if (canChange) {
    for (const to of ["in-progress", "waiting-customer", "waiting-department", "resolved", "closed"]) {
      if (!transitions.includes(to)) continue;
      buttons.push(el("button", { type: "button", "data-action": to, class: to === "resolved" ? "primary" : null,
        onclick: () => setStatus(to) }, statusButtonText(item.status, to)));
    }
    if (open) {
      buttons.push(el("button", { type: "button", "data-action": "assign",
        "aria-expanded": $("#item-assign-form").hidden ? "false" : "true",
        onclick: (ev) => {
          const form = $("#item-assign-form");
          form.hidden = !form.hidden;
          ev.currentTarget.setAttribute("aria-expanded", form.hidden ? "false" : "true");
          if (!form.hidden) $("#item-assign-to").focus();
        } }, t("reassign")));
    }
  }
  $("#item-status-buttons").replaceChildren(...buttons);
  $("#item-status-buttons").hidden = !buttons.length;
  if (!open || !canChange) { $("#item-assign-form").hidden = true; $("#item-resolve-form").hidden = true; }
  fillAssignChoices(item);

  $("#item-timeline").replaceChildren(...(item.timeline || []).map(timelineEntry));
  const calls = item.calls || [];
  $("#item-calls-wrap").hidden = !calls.length;
  $("#item-calls tbody").replaceChildren(...calls.map((c) => row([
    when(c.joined_at), t("dir_" + c.direction), c.caller_number || "—", c.queue,
    c.direction === "outbound" ? t("cb_" + c.outcome) : t(c.outcome), c.answered_by_name || c.answered_by || "—"])));
  const links = item.links || [];
  $("#item-links-wrap").hidden = !links.length;
  $("#item-links").replaceChildren(...links.map((l) => el("li", {},
    t("rel_" + l.relation), ": ",
    el("button", { type: "button", class: "link", onclick: () => openItem(l.id) }, l.ticket), " ",
    kindBadge(l.kind), " ", statusBadge(l.status), " ", l.title)));
  const attempts = item.attempts || [];
  $("#item-attempts-wrap").hidden = !attempts.length;
  $("#item-attempts tbody").replaceChildren(...attempts.map((a) => row([
    String(a.attempt), when(a.started_at), a.agent_name || "—", a.number,
    (a.outcome ? t("cb_" + a.outcome) : t("cb_running")) + (a.reason ? " (" + a.reason + ")" : "")])));
}
function fillAssignChoices(item) {
  const select = $("#item-assign-to");
  const kept = select.value;
  const users = ((work.options && work.options.users) || []).filter((u) => u.id !== item.owner_id);
  const teams = (work.options && work.options.teams) || [];
  select.replaceChildren(el("option", { value: "" }, t("choose")),
    el("optgroup", { label: t("colleagues") }, ...users.map((u) => el("option", { value: "user:" + u.id }, u.name))),
    el("optgroup", { label: t("team_pools") }, ...teams.map((team) => el("option", { value: "team:" + team.id },
      t("pool_of").replace("{team}", teamLabel(team))))));
  select.value = kept;
}
function timelineEntry(entry) {
  const d = entry.data || {};
  let what;
  switch (entry.kind) {
    case "created": what = t("ev_created").replace("{kind}", kindName(d.kind)).replace("{prio}", prioName(d.priority))
      .replace("{cat}", categoryName(d.category)); break;
    case "status": what = t("ev_status").replace("{from}", statusName(d.before)).replace("{to}", statusName(d.after)); break;
    case "owner": what = t("ev_owner").replace("{from}", ownerText(d.before, null, d.team_before, null))
      .replace("{to}", ownerText(d.after, null, d.team_after, null)); break;
    case "escalated": what = t("ev_escalated").replace("{tier}", t("tier_" + d.tier)); break;
    case "call": what = t("ev_call").replace("{id}", d.call_id == null ? "" : d.call_id); break;
    case "link": what = t("ev_link").replace("{rel}", t("rel_" + d.relation)).replace("{ticket}", d.ticket || ""); break;
    case "department": what = t("ev_department").replace("{dep}", departmentName(d.department)); break;
    default: {
      const key = "ev_" + entry.kind;
      what = t(key) === key ? entry.kind : t(key);
    }
  }
  let text = entry.text || (entry.kind === "status" && d.resolution) || "";
  if (entry.kind === "callback") {
    // The dialler's lines are in English: said again in the user's language.
    if (d.declined) { what = t("ev_callback_declined"); text = text.replace(/^Callback offer declined:? ?/, ""); }
    else if (d.reached !== undefined && d.reached !== null) {
      what = t("ev_callback_result").replace("{n}", d.attempt).replace("{what}", t(d.reached ? "cb_reached" : "cb_not-reached"));
      if (/^Customer (not )?reached$/.test(text)) text = "";
    } else if (d.outcome) {
      what = t("ev_callback_attempt").replace("{n}", d.attempt).replace("{what}", t("cb_" + d.outcome))
        + (d.reason ? " (" + d.reason + ")" : "");
      text = "";
    } else if (/^Callback offer ran out/.test(text)) { what = t("ev_callback_ran_out"); text = ""; }
  }
  return el("li", { class: "ev ev-" + entry.kind },
    el("span", { class: "ev-head" }, timeEl(entry.at), " ", el("strong", { class: "ev-actor" },
      entry.actor === "system" ? t("system") : entry.actor), " ", el("span", { class: "ev-what" }, what)),
    text ? el("span", { class: "ev-text" }, text) : null);
}

// --- the pop's open work items ----------------------------------------------------------------
async function loadCardWork(pop) {
  if (!may("work:own") && !may("work:supervise")) return;
  const params = new URLSearchParams();
  if (pop.customer && pop.customer.id) params.set("customer_id", pop.customer.id);
  const phone = cleanPhone(pop.caller && pop.caller.number);
  if (phone) params.set("phone", phone);
  if (!params.toString()) return;
  try {
    const answer = await api("GET", "/api/work/customer?" + params);
    pop.work_items = answer.items || [];
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    return;
  }
  if (state.current === pop.pop_id) renderCard();
}
function refreshCardWork() {
  const pop = state.current ? state.pops.get(state.current) : null;
  if (pop) loadCardWork(pop);
}
function cardWorkItem(item) {
  const due = deadline(item);
  const li = el("li", { class: "open-item work" + (due.overdue ? " overdue" : ""), "data-id": item.id });
  li.append(el("button", { type: "button", class: "link ticket", "aria-label": t("open_item") + " " + t("ticket") + " " + item.ticket,
    onclick: () => openItem(item.id) }, item.ticket), " ", kindBadge(item.kind), " ");
  if (due.overdue) li.append(overdueBadge(), " ");
  li.append(span("due", due.text), " ", span("title", item.title));
  li.append(el("br"), span("meta", statusName(item.status) + " · " + t("owner_is").replace("{name}",
    ownerText(item.owner_id, item.owner_name, item.team_id, work.options ? null : item.team_name))));
  return li;
}

// --- the wrap-up form -----------------------------------------------------------------------
function queueWrapup(entry) {
  if (!may("calls:wrap-up")) return;
  if (wrap.current) { wrap.queue.push(entry); renderPending(); return; }
  openWrapup(entry, false);
}
function openWrapup(entry, focus) {
  wrap.current = entry; wrap.done = null; wrap.error = null;
  resetWrapupForm(entry);
  renderWrapup();
  if (focus || document.activeElement === document.body || !document.activeElement) {
    (entry.callback ? $("#wu-reached-yes") : $("#wu-disposition")).focus();
  }
  if (!entry.callId && !entry.callback) entry.finding = findRecord(entry);
  if (!entry.pop && entry.call && entry.call.customer_id && entry.customerName === undefined) loadCustomerName(entry);
}
// A call from the records (no card on this page): the customer's name from the directory.
async function loadCustomerName(entry) {
  entry.customerName = null;
  try {
    const customer = await api("GET", "/api/customers/" + entry.call.customer_id);
    entry.customerName = customer.name;
  } catch (_) { return; }
  if (wrap.current !== entry) return;
  const title = $("#wu-title");
  const number = callerNumber(entry);
  if (!title.dataset.touched && number && title.value.endsWith(" · " + number)) {
    title.value = title.value.slice(0, -number.length) + entry.customerName;
  }
  renderWrapup();
}
// The call record comes a moment after the call ended (written in batches): a few tries.
async function findRecord(entry, tries = 10) {
  entry.notFound = false; entry.searching = true; renderWrapupRecord();
  const params = new URLSearchParams({ pbx: entry.pbx, uniqueid: entry.uniqueid, outcome: "answered", limit: "5" });
  for (let i = 0; i < tries && !entry.callId; i++) {
    if (i) await sleep(1000);
    if (wrap.current !== entry && !wrap.queue.includes(entry)) return;
    try {
      const answer = await api("GET", "/api/calls?" + params);
      const call = (answer.calls || [])[0];
      if (call) { entry.call = call; entry.callId = call.id; }
    } catch (e) {
      if (e.status === 401) { showLogin(); return; }
    }
  }
  entry.searching = false; entry.notFound = !entry.callId;
  if (wrap.current === entry) renderWrapupRecord();
}
function wrapFrom(call) {
  // A call record of the pending list; the card of that call, if this page still has it.
  const pop = [...state.pops.values()].find((p) => p.pbx === call.pbx && p.uniqueid === call.uniqueid) || null;
  return { pbx: call.pbx, uniqueid: call.uniqueid, pop, call, callId: call.id };
}

function option(value, text, selected) { return el("option", { value, selected: selected ? "" : null }, text); }
function fillWrapupChoices() {
  const keep = (id) => $(id).value;
  const disposition = keep("#wu-disposition"), kind = keep("#wu-kind"), category = keep("#wu-category");
  const priority = keep("#wu-priority"), team = keep("#wu-team");
  const callback = Boolean(wrap.current && wrap.current.callback);
  $("#wu-disposition").replaceChildren(option("", t(callback ? "none_choice" : "choose")),
    ...work.dispositions.map((d) => option(d.code, label2(d))));
  const kinds = (work.options && work.options.kinds) || WORK_KINDS;
  $("#wu-kind").replaceChildren(...WORK_KINDS.filter((k) => kinds.includes(k)).map((k) => option(k, kindName(k))));
  $("#wu-category").replaceChildren(option("", t("choose")),
    ...((work.options && work.options.categories) || []).map((c) => option(c.code, label2(c))));
  $("#wu-priority").replaceChildren(option("", t("prio_rule")),
    ...((work.options && work.options.priorities) || PRIORITIES).map((p) => option(p, prioName(p))));
  const mineTeams = new Set((((work.options && work.options.users) || []).find((u) => u.id === me()) || {}).teams || []);
  const teams = [...((work.options && work.options.teams) || [])].sort((a, b) => (mineTeams.has(b.id) ? 1 : 0) - (mineTeams.has(a.id) ? 1 : 0));
  $("#wu-team").replaceChildren(...teams.map((team) => option(String(team.id), teamLabel(team))));
  $("#wu-disposition").value = disposition; $("#wu-kind").value = kind || "complaint";
  $("#wu-category").value = category; $("#wu-priority").value = priority;
  if (team) $("#wu-team").value = team;
}
function localInput(ms) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}
function resetWrapupForm(entry) {
  $("#wrapup-form").reset();
  for (const id of ["#wu-disposition", "#wu-kind", "#wu-category", "#wu-priority"]) $(id).value = "";
  fillWrapupChoices();
  $("#wu-kind").value = "complaint";
  $("#wu-create").checked = false;
  $("#wu-create").dataset.touched = ""; $("#wu-title").dataset.touched = ""; $("#wu-category").dataset.touched = "";
  $("#wu-phone").value = cleanPhone(callerNumber(entry)) || "";
  $("#wu-owner-me").checked = true;
  $("#wu-due").min = localInput(serverNow());
  showItemFields();
}
function callerNumber(entry) {
  if (entry.callback) return entry.callback.phone;
  if (entry.pop) return entry.pop.caller.number;
  return entry.call ? entry.call.caller_number : "";
}
function customerOf(entry) {
  if (entry.callback) return { id: null, name: entry.callback.customer_name || null };
  if (entry.pop && entry.pop.customer) return { id: entry.pop.customer.id, name: entry.pop.customer.name };
  if (entry.call && entry.call.customer_id) return { id: entry.call.customer_id, name: entry.customerName || null };
  return null;
}
function showItemFields() {
  const on = $("#wu-create").checked;
  $("#wu-item-fields").hidden = !on;
  $("#wu-item").classList.toggle("on", on);
  $("#wu-team").disabled = !$("#wu-owner-team").checked;
  const category = ((work.options && work.options.categories) || []).find((c) => c.code === $("#wu-category").value);
  $("#wu-category-hint").textContent = category && category.priority
    ? t("category_priority").replace("{p}", prioName(category.priority)) : "";
}
// A disposition suggests the item: a complaint logs a complaint, "call back" a callback.
$("#wu-disposition").addEventListener("change", () => {
  const d = work.dispositions.find((x) => x.code === $("#wu-disposition").value);
  if (!d || (wrap.current && wrap.current.callback)) return;
  const kind = d.category === "complaint" ? "complaint" : d.code.includes("callback") ? "callback"
    : d.category === "consultation" ? "inquiry" : "follow-up";
  const suggest = d.category === "complaint" || kind === "callback";
  if (!$("#wu-create").dataset.touched) $("#wu-create").checked = suggest;
  if (!$("#wu-create").checked || !$("#wu-title").dataset.touched) $("#wu-kind").value = kind;
  if (kind === "callback" && !$("#wu-category").dataset.touched && [...$("#wu-category").options].some((o) => o.value === "callback")) {
    $("#wu-category").value = "callback";
  }
  if (!$("#wu-title").dataset.touched) {
    const who = customerOf(wrap.current || {});
    $("#wu-title").value = label2(d) + " · " + ((who && who.name) || callerNumber(wrap.current || {}) || "");
  }
  showItemFields();
});
// A refusal of this page's own checks goes once the user changes something.
for (const type of ["input", "change"]) {
  $("#wrapup-form").addEventListener(type, () => {
    if (wrap.error && wrap.error.local) { wrap.error = null; showRefusal($("#wu-error"), null); }
  });
}
$("#wu-create").addEventListener("change", () => { $("#wu-create").dataset.touched = "1"; showItemFields(); });
$("#wu-title").addEventListener("input", () => { $("#wu-title").dataset.touched = "1"; });
$("#wu-category").addEventListener("change", () => { $("#wu-category").dataset.touched = "1"; showItemFields(); });
for (const id of ["#wu-owner-me", "#wu-owner-team"]) $(id).addEventListener("change", showItemFields);
$("#wu-resolve").addEventListener("change", () => {
  $("#wu-resolution-field").hidden = !$("#wu-resolve").checked;
  if ($("#wu-resolve").checked) $("#wu-resolution").focus();
});
$("#wu-later").addEventListener("click", () => { nextWrapup(); $("#wrapup-title").focus(); });
$("#wu-retry").addEventListener("click", () => {
  const entry = wrap.current;
  if (entry && !entry.callId && !entry.searching) entry.finding = findRecord(entry, 5);
});

function renderWrapupRecord() {
  const entry = wrap.current;
  const node = $("#wu-record");
  $("#wu-retry").hidden = !(entry && entry.notFound);
  if (!entry) { node.textContent = ""; return; }
  if (entry.callback) {
    const ended = entry.callback.ended;
    if (ended && ended.outcome !== "reached") {
      node.textContent = t("cb_ended_missed").replace("{what}", t("cb_" + ended.outcome) + (ended.reason ? " (" + ended.reason + ")" : ""));
    } else if (ended) node.textContent = t("cb_ended");
    else if (entry.callback.connected) node.textContent = t("cb_connected");
    else node.textContent = t("cb_in_progress");
  } else if (entry.callId) {
    node.textContent = t("record_found").replace("{id}", entry.callId);
  } else if (entry.notFound) {
    node.textContent = t("record_missing");
  } else node.textContent = t("record_finding");
}
function renderWrapup() {
  const entry = wrap.current;
  const section = $("#wrapup");
  $("#wrapup-form").hidden = !entry;
  const done = wrap.done;
  const said = [];
  if (done) {
    said.push(t(done.callback ? "cb_saved" : "wrapup_saved"));
    if (done.ticket) said.push(" ", el("strong", {}, t("item_created").replace("{ticket}", done.ticket)));
    if (done.resolved) said.push(" " + t("item_resolved"));
    if (done.id) said.push(" ", el("button", { type: "button", class: "small", onclick: () => openItem(done.id) }, t("open_item")));
  }
  $("#wu-done").replaceChildren(...said);
  renderPending();
  section.hidden = !entry && !done && !wrap.pending.length && !wrap.queue.length;
  if (!entry) return;
  const callback = entry.callback;
  const who = customerOf(entry);
  const parts = [];
  if (callback) parts.push(t("ticket") + " " + callback.ticket);
  parts.push((who && who.name) || t(callback ? "no_customer" : "unknown_caller"));
  const number = callerNumber(entry);
  if (number) parts.push(number);
  const queue = (entry.pop && entry.pop.queue) || (entry.call && entry.call.queue);
  if (queue && !callback) parts.push(t("queue") + " " + queue);
  const ivr = (entry.pop && entry.pop.ivr) || (entry.call && entry.call.ivr_data) || {};
  const ivrText = Object.entries(ivr).map(([k, v]) => k + "=" + v).join(", ");
  $("#wu-call").replaceChildren(el("strong", {}, parts.join(" · ")),
    ivrText ? el("span", { class: "hint" }, " · " + t("ivr") + ": " + ivrText) : "");
  $("#wu-callback").hidden = !callback;
  $("#wu-reached-group").hidden = Boolean(callback && missedByPbx(callback));
  $("#wu-item").hidden = Boolean(callback);
  $("#wu-callback-item").textContent = callback ? t("cb_result_hint") : "";
  $("#wu-later").textContent = t(callback ? "close" : "wrapup_later");
  $("#wu-submit").textContent = t(callback ? "cb_submit" : "wrapup_submit");
  $("#wu-submit").disabled = wrap.busy;
  $("#wrapup-form").setAttribute("aria-busy", wrap.busy ? "true" : "false");
  showRefusal($("#wu-error"), wrap.error);
  renderWrapupRecord();
  showItemFields();
}
function renderPending() {
  const inForm = (call) => [wrap.current, ...wrap.queue].some((e) => e && (e.callId === call.id ||
    (e.pbx === call.pbx && e.uniqueid === call.uniqueid)));
  const waiting = wrap.queue.filter((e) => !e.callId || !wrap.pending.some((c) => c.id === e.callId));
  const calls = wrap.pending.filter((c) => !inForm(c) || wrap.queue.some((e) => e.callId === c.id));
  const rows = [
    ...waiting.map((e) => pendingRow(e.pop ? e.pop.rung_at : null, callerNumber(e), e.pop && e.pop.queue,
      (e.pop && e.pop.customer && e.pop.customer.name) || "", () => { wrap.queue = wrap.queue.filter((x) => x !== e); switchWrapup(e); })),
    ...calls.map((c) => pendingRow(c.answered_at || c.joined_at, c.caller_number, c.queue, "",
      () => { wrap.queue = wrap.queue.filter((x) => x.callId !== c.id); switchWrapup(wrapFrom(c)); })),
  ];
  $("#pending-list").replaceChildren(...rows);
  $("#pending-wrapups").hidden = !rows.length;
}
function pendingRow(at, number, queue, name, go) {
  const what = [when(at), number || t("unknown_caller"), name, queue].filter(Boolean).join(" · ");
  return el("li", {}, el("span", {}, what), " ",
    el("button", { type: "button", class: "small", "aria-label": t("wrap_up_this") + ": " + what, onclick: go }, t("wrap_up_this")));
}
function switchWrapup(entry) {
  if (wrap.current && !wrap.current.wrapped) wrap.queue.unshift(wrap.current);
  openWrapup(entry, true);
}
function nextWrapup() {
  wrap.current = null; wrap.error = null;
  const next = wrap.queue.shift();
  if (next) openWrapup(next, false);
  else renderWrapup();
}
async function loadPending() {
  if (!may("calls:wrap-up")) return;
  const since = new Date(serverNow() - PENDING_HOURS * 3600 * 1000).toISOString();
  const params = new URLSearchParams({ outcome: "answered", from: since, limit: "50" });
  try {
    const answer = await api("GET", "/api/calls?" + params);
    wrap.pending = (answer.calls || []).filter((c) => !c.wrapup && c.answered_at);
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    return;
  }
  renderWrapup();
}

function fail(key, focus) {
  wrap.error = { key, message: "", local: true };
  renderWrapup();
  if (focus) $(focus).focus();
  return false;
}
// The PBX says the customer never answered: there is nothing for the agent to confirm.
function missedByPbx(callback) { return Boolean(callback.ended && callback.ended.outcome !== "reached"); }
function checkWrapup(entry) {
  if (entry.callback) {
    if (!missedByPbx(entry.callback) && !$("#wu-reached-yes").checked && !$("#wu-reached-no").checked) {
      return fail("err_reached_required", "#wu-reached-yes");
    }
    if ($("#wu-resolve").checked && !$("#wu-resolution").value.trim()) return fail("err_resolution_required", "#wu-resolution");
    return true;
  }
  if (!$("#wu-disposition").value) return fail("err_disposition_required", "#wu-disposition");
  if (!$("#wu-create").checked) return true;
  if (!$("#wu-category").value) return fail("err_category_required", "#wu-category");
  if (!$("#wu-title").value.trim()) return fail("err_title_required", "#wu-title");
  const due = $("#wu-due").value;
  if (due && !(Date.parse(due) > serverNow())) return fail("err_due_past", "#wu-due");
  const phone = $("#wu-phone").value.trim();
  if (phone && !cleanPhone(phone)) return fail("err_phone", "#wu-phone");
  if ($("#wu-kind").value === "callback" && !phone) return fail("err_nobody-to-call", "#wu-phone");
  if ($("#wu-owner-team").checked && !$("#wu-team").value) return fail("err_team_required", "#wu-team");
  return true;
}
function itemBody(entry) {
  const body = { kind: $("#wu-kind").value, title: $("#wu-title").value.trim(), category: $("#wu-category").value,
    call_ids: [entry.callId], note: $("#wu-notes").value.trim() };
  if ($("#wu-priority").value) body.priority = $("#wu-priority").value;
  const who = customerOf(entry);
  if (who && who.id) body.customer_id = Number(who.id);
  const phone = cleanPhone($("#wu-phone").value);
  if (phone) body.phone = phone;
  if ($("#wu-owner-team").checked) body.team_id = Number($("#wu-team").value);
  if ($("#wu-due").value) body.due_at = new Date($("#wu-due").value).toISOString();
  return body;
}

$("#wrapup-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const entry = wrap.current;
  if (!entry || wrap.busy) return;
  wrap.error = null;
  if (!checkWrapup(entry)) return;
  wrap.busy = true; renderWrapup();
  let done = null;
  try {
    done = entry.callback ? await submitCallback(entry) : await submitCall(entry);
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    wrap.error = refusal(e);
  } finally {
    wrap.busy = false;
  }
  if (!done) { renderWrapup(); $("#wu-error").focus(); return; }
  nextWrapup();
  wrap.done = done;
  renderWrapup();
  $("#wrapup-title").focus();
  loadPending(); scheduleWork(); refreshCardWork();
  if (done.id && work.item && work.item.id === done.id) refreshItem();
});
async function submitCall(entry) {
  if (!entry.callId && entry.finding) await entry.finding;
  if (!entry.callId) throw Object.assign(new Error(""), { error: "no-record", message: "" });
  // Stored once: a second submit after a refused item does not wrap up again.
  if (!entry.wrapped) {
    await api("POST", `/api/calls/${entry.callId}/wrapup`, { disposition: $("#wu-disposition").value,
      notes: $("#wu-notes").value.trim() });
    entry.wrapped = true;
  }
  if ($("#wu-create").checked && !entry.created) {
    entry.created = await api("POST", "/api/work/items", itemBody(entry));
  }
  return { ticket: entry.created && entry.created.ticket, id: entry.created && entry.created.id };
}
async function submitCallback(entry) {
  const callback = entry.callback;
  let detail = await api("GET", `/api/work/items/${callback.item_id}`);
  const attempts = detail.attempts || [];
  const mineAttempts = attempts.filter((a) => a.agent_id === me());
  const attempt = callback.attempt || (mineAttempts.length ? mineAttempts[mineAttempts.length - 1].attempt
    : attempts.length ? attempts[attempts.length - 1].attempt : null);
  const reached = $("#wu-reached-yes").checked;
  const note = $("#wu-notes").value.trim();
  if (!callback.reported) {
    if (!missedByPbx(callback)) {
      await api("POST", `/api/work/callbacks/${callback.item_id}/result`, { attempt, reached, note });
    } else if (note) {
      await api("POST", `/api/work/items/${callback.item_id}/notes`, { text: note });
    }
    callback.reported = true;
  }
  // The attempt's call record gets the disposition, if one was picked and it was answered.
  const disposition = $("#wu-disposition").value;
  const record = attempts.find((a) => a.attempt === attempt);
  if (disposition && !entry.wrapped && record && record.call_id) {
    try {
      await api("POST", `/api/calls/${record.call_id}/wrapup`, { disposition, notes: note });
    } catch (e) {
      if (e.error !== "not-answered") throw e;
    }
    entry.wrapped = true;
  }
  let resolved = false;
  if ($("#wu-resolve").checked && !callback.resolved) {
    detail = await api("GET", `/api/work/items/${callback.item_id}`);
    if (!CLOSED.has(detail.status)) {
      await api("POST", `/api/work/items/${callback.item_id}/status`,
        { version: detail.version, status: "resolved", resolution: $("#wu-resolution").value.trim() });
    }
    callback.resolved = resolved = true;
  }
  return { ticket: null, id: callback.item_id, resolved, callback: true };
}

// --- callback offers ----------------------------------------------------------------------------
function offerItemId(offer) { return offer ? offer.item_id || (offer.item && offer.item.id) || null : null; }
function offerCustomer(current) {
  const offer = current.offer;
  return (offer.customer && offer.customer.name) || (current.detail && current.detail.customer_name) || null;
}
async function loadOffer() {
  if (!may("work:own")) return;
  let answer;
  try { answer = await api("GET", "/api/work/callbacks/offer"); } catch (e) {
    if (e.status === 401) showLogin();
    return;
  }
  const offer = answer && Object.prototype.hasOwnProperty.call(answer, "offer") ? answer.offer : answer;
  if (offer && offerItemId(offer)) showOffer(offer);
  else if (work.offer && !work.offer.busy) { work.offer = null; renderOffer(); }
}
async function showOffer(offer) {
  const id = offerItemId(offer);
  if (!id) return;
  const same = work.offer && offerItemId(work.offer.offer) === id;
  work.offer = { offer, detail: same ? work.offer.detail : null, error: null, busy: false };
  renderOffer();
  if (!same) {
    $("#offer-title").scrollIntoView({ block: "nearest" });
    $("#offer-live").textContent = t("offer_said").replace("{ticket}", offer.ticket || (offer.item && offer.item.ticket) || "");
  }
  try {
    const detail = await api("GET", "/api/work/items/" + id);
    if (work.offer && offerItemId(work.offer.offer) === id) { work.offer.detail = detail; renderOffer(); }
  } catch (_) { /* the offer shows what it carries */ }
}
function offerGone(itemId) {
  if (!work.offer || offerItemId(work.offer.offer) !== itemId || work.offer.busy) return;
  work.offer = null;
  renderOffer();
}
function renderOffer() {
  const section = $("#offer");
  const current = work.offer;
  section.hidden = !current;
  if (!current) return;
  const offer = current.offer;
  const item = current.detail || offer.item || offer;
  $("#offer-ticket").textContent = t("ticket") + " " + (item.ticket || offer.ticket || "");
  $("#offer-customer").textContent = offerCustomer(current) || t("no_customer");
  $("#offer-phone").textContent = offer.number || item.phone || "";
  const tries = offer.max_attempts ? t("attempt_n").replace("{n}", (offer.attempts || 0) + 1).replace("{max}", offer.max_attempts) : "";
  $("#offer-item").replaceChildren(...(item.kind ? [kindBadge(item.kind), " ", prioBadge(item.priority || "normal"), " ",
    item.title || "", tries ? " · " + tries : "", offer.queue ? " · " + t("queue") + " " + offer.queue : ""] : []).flat());
  // The item's history: its timeline (the earlier tries are on it), the last entries.
  const history = current.detail ? [...(current.detail.timeline || [])].slice(-6)
    : (offer.history || []).map((a) => ({ at: a.started_at, actor: "system", kind: "callback", text: "",
      data: { attempt: a.attempt, outcome: a.outcome, reason: a.reason } }));
  $("#offer-history").replaceChildren(...(history.length ? history.map(timelineEntry) : [el("li", { class: "empty" }, t("none"))]));
  renderOfferClock();
  $("#offer-accept").disabled = current.busy; $("#offer-decline").disabled = current.busy;
  showRefusal($("#offer-error"), current.error);
}
function renderOfferClock() {
  const node = $("#offer-expires");
  const expires = work.offer && work.offer.offer.offered_until;
  node.hidden = !expires;
  if (expires) node.textContent = t("offer_left").replace("{s}", Math.max(0, Math.round((Date.parse(expires) - serverNow()) / 1000)));
}
setInterval(() => { if (work.offer) renderOfferClock(); }, 1000);
$("#offer-accept").addEventListener("click", async () => {
  const current = work.offer;
  if (!current || current.busy) return;
  const id = offerItemId(current.offer);
  current.busy = true; current.error = null; renderOffer();
  let answer;
  try {
    answer = await api("POST", `/api/work/callbacks/${id}/accept`, {});
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    current.busy = false; current.error = refusal(e); renderOffer();
    return;
  }
  const item = current.detail || current.offer.item || {};
  work.offer = null; renderOffer();
  const callback = { item_id: id, ticket: current.offer.ticket || item.ticket, attempt: answer ? answer.attempt : null,
    phone: current.offer.number || item.phone, customer_name: offerCustomer(current) };
  if (answer && answer.ended) {
    // The PBX refused the dial at once: nothing to wrap up; said, and tried again as planned.
    addNotice({ event: "dial_failed", item: { id, ticket: callback.ticket, title: item.title || "" },
      reason: [answer.outcome ? t("cb_" + answer.outcome) : "", answer.reason || ""].filter(Boolean).join(": ") });
    return;
  }
  // Being dialled: the form asks, when the call is over, whether the customer was reached.
  startCallbackForm(callback, true);
});
function startCallbackForm(callback, focus) {
  if (wrap.current && wrap.current.callback && wrap.current.callback.item_id === callback.item_id) return;
  if (wrap.current && !wrap.current.wrapped) wrap.queue.unshift(wrap.current);
  wrap.current = null;
  openWrapup({ callback }, focus);
}
// The dialler's word on a callback call: the customer answered, or the attempt ended. A
// callback dialled at once (auto_dial_queues) had no offer: its form starts here.
async function callbackProgress(msg, what) {
  const entry = [wrap.current, ...wrap.queue].find((e) => e && e.callback && e.callback.item_id === msg.item_id);
  if (entry) {
    entry.callback.attempt = msg.attempt || entry.callback.attempt;
    if (what === "connected") entry.callback.connected = true;
    else entry.callback.ended = { outcome: msg.outcome, reason: msg.reason };
    if (wrap.current === entry) renderWrapup();
    return;
  }
  let detail = null;
  try { detail = await api("GET", "/api/work/items/" + msg.item_id); } catch (_) { /* said with less */ }
  if (what === "ended" && msg.outcome !== "reached") {
    addNotice({ event: "callback_missed", item: { id: msg.item_id, ticket: detail ? detail.ticket : "", title: detail ? detail.title : "" },
      reason: t("cb_" + msg.outcome) + (msg.reason ? " (" + msg.reason + ")" : "") });
    return;
  }
  const callback = { item_id: msg.item_id, ticket: detail ? detail.ticket : "", attempt: msg.attempt,
    phone: detail ? detail.phone : "", customer_name: detail ? detail.customer_name : null,
    connected: true, ended: what === "ended" ? { outcome: msg.outcome, reason: msg.reason } : null };
  startCallbackForm(callback, false);
}
$("#offer-decline").addEventListener("click", async () => {
  const current = work.offer;
  if (!current || current.busy) return;
  const id = offerItemId(current.offer);
  current.busy = true; current.error = null; renderOffer();
  const reason = $("#offer-reason").value.trim();
  try {
    await api("POST", `/api/work/callbacks/${id}/decline`, reason ? { reason } : {});
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    current.busy = false; current.error = refusal(e); renderOffer();
    return;
  }
  $("#offer-reason").value = "";
  work.offer = null; renderOffer();
});
document.addEventListener("visibilitychange", () => { if (!document.hidden && state.user) { scheduleWork(); loadPending(); } });

// --- start ----------------------------------------------------------------------------------
applyI18n();
renderCard();
api("GET", "/api/me").then((data) => showConsole(data.user)).catch(() => showLogin());
