// The agent console: login, ready/pause, the screen-pop card, the customer form.
import {
  $, $$, el, api, liveSocket, t, getLang, setLang, rememberedLang, applyI18n, onLangChange,
  bindLangButton, showLinkState,
} from "/static/common/common.js";
import "./i18n.js";

const state = { user: null, pops: new Map(), current: null, timer: null };

// --- the agent socket (reconnects with jittered back-off; a lost session shows the login) ----
const socket = liveSocket("/ws/agent", {
  onMessage: (msg) => handle(msg),
  onState: (s) => showLinkState($("#link-state"), s),
  beforeRetry: async () => {
    try { await api("GET", "/api/me"); } catch (e) {
      if (e.status === 401) { showLogin(); return false; }
    }
    return true;
  },
});

// --- language -------------------------------------------------------------------------------
bindLangButton($("#lang"));
onLangChange(() => { renderStatus(); renderCard(); });

// --- login ----------------------------------------------------------------------------------
function showLogin() {
  state.user = null;
  socket.stop();
  $("#login-view").hidden = false; $("#console-view").hidden = true; $("#logout").hidden = true;
  $("#who").textContent = "";
}
function showConsole(user) {
  state.user = user;
  // The profile's language until the user picks one on this browser.
  if (!rememberedLang() && user.language) setLang(user.language, { remember: false });
  $("#login-view").hidden = true; $("#console-view").hidden = false; $("#logout").hidden = false;
  $("#who").textContent = user.display_name + " (" + user.interfaces.join(", ") + ")";
  // VIP level and tags steer routing: staff set them, an agent sees them (the API says the same).
  const classify = (user.permissions || []).includes("customers:classify");
  for (const id of ["#cf-vip", "#cf-tags"]) {
    $(id).disabled = !classify;
    if (classify) { delete $(id).dataset.i18nTitle; $(id).title = ""; }
    else $(id).dataset.i18nTitle = "staff_only";
  }
  applyI18n();
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
      showMembers(msg.members);
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
    case "member":
      memberStates.set(msg.pbx + "|" + msg.queue, msg);
      renderStatus();
      break;
  }
  renderCard();
}

// --- ready / paused -------------------------------------------------------------------------
const memberStates = new Map();
function showMembers(members) {
  memberStates.clear();
  members.forEach((m) => m.queues.forEach((q) => memberStates.set(m.pbx + "|" + q,
    { paused: m.paused, paused_reason: m.paused_reason, state: m.state })));
  renderStatus();
}
function renderStatus() {
  const all = [...memberStates.values()].filter((m) => !m.removed);
  const node = $("#agent-status");
  if (!all.length) { node.dataset.i18n = "unknown"; node.textContent = t("unknown"); return; }
  const paused = all.every((m) => m.paused);
  node.dataset.i18n = paused ? "paused" : all[0].state;
  node.textContent = t(node.dataset.i18n) + (paused && all[0].paused_reason ? " (" + all[0].paused_reason + ")" : "");
}
async function setPaused(paused) {
  $("#status-error").textContent = "";
  try {
    await api("POST", "/api/agent/pause", { paused, reason: paused ? $("#pause-reason").value : "" });
  } catch (e) {
    $("#status-error").textContent = e.message;
  }
}
$("#ready").addEventListener("click", () => setPaused(false));
$("#pause").addEventListener("click", () => setPaused(true));

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
      const s = Math.max(0, Math.floor((Date.now() - Date.parse(pop.connected_at)) / 1000));
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
