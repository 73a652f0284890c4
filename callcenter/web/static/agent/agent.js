// The agent console: login, ready/pause, the screen-pop card, the customer form.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { user: null, lang: localStorage.getItem("cc.lang") || null, ws: null,
                  backoff: 500, pops: new Map(), current: null, timer: null, stopped: false };

  function t(key) { return (I18N[state.lang || "zh"] || I18N.zh)[key] || key; }
  function applyLanguage() {
    const lang = state.lang || "zh";
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    $("lang").textContent = t("other_lang");
    renderCard();
  }

  async function api(method, path, body) {
    const response = await fetch(path, { method, credentials: "same-origin",
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { status: response.status, data };
  }

  // --- login -------------------------------------------------------------------------
  function showLogin() {
    state.user = null; state.stopped = true;
    if (state.ws) state.ws.close();
    $("login-view").hidden = false; $("console-view").hidden = true; $("logout").hidden = true;
    $("who").textContent = "";
  }
  function showConsole(user) {
    state.user = user; state.stopped = false;
    if (!localStorage.getItem("cc.lang")) state.lang = user.language;
    applyLanguage();
    $("login-view").hidden = true; $("console-view").hidden = false; $("logout").hidden = false;
    $("who").textContent = user.display_name + " (" + user.interfaces.join(", ") + ")";
    connect();
  }
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("login-error").textContent = "";
    const r = await api("POST", "/api/login", { username: $("username").value, password: $("password").value });
    if (r.status === 200) { $("password").value = ""; showConsole(r.data.user); }
    else if (r.status === 429) $("login-error").textContent = t("too_many");
    else $("login-error").textContent = t("bad_login");
  });
  $("logout").addEventListener("click", async () => { await api("POST", "/api/logout"); showLogin(); });
  $("lang").addEventListener("click", () => {
    state.lang = (state.lang || "zh") === "zh" ? "en" : "zh";
    localStorage.setItem("cc.lang", state.lang);
    applyLanguage();
  });

  // --- the agent socket (reconnects with back-off) -------------------------------------
  function connect() {
    if (state.stopped) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(scheme + "://" + location.host + "/ws/agent");
    state.ws = ws;
    ws.onopen = () => { state.backoff = 500; setLink(true); };
    ws.onmessage = (ev) => handle(JSON.parse(ev.data));
    ws.onclose = async () => {
      setLink(false);
      if (state.stopped || state.ws !== ws) return;
      const wait = state.backoff * (0.75 + Math.random() / 2);
      state.backoff = Math.min(state.backoff * 2, 15000);
      setTimeout(async () => {
        const me = await api("GET", "/api/me").catch(() => ({ status: 0 }));
        if (me.status === 401) showLogin(); else connect();
      }, wait);
    };
  }
  function setLink(on) {
    const el = $("link-state");
    el.className = "pill " + (on ? "on" : "off");
    el.dataset.i18n = on ? "online" : "offline";
    el.textContent = t(el.dataset.i18n);
  }

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

  // --- ready / paused -----------------------------------------------------------------
  const memberStates = new Map();
  function showMembers(members) {
    memberStates.clear();
    members.forEach((m) => m.queues.forEach((q) => memberStates.set(m.pbx + "|" + q,
      { paused: m.paused, paused_reason: m.paused_reason, state: m.state })));
    renderStatus();
  }
  function renderStatus() {
    const all = [...memberStates.values()].filter((m) => !m.removed);
    const el = $("agent-status");
    if (!all.length) { el.dataset.i18n = "unknown"; el.textContent = t("unknown"); return; }
    const paused = all.every((m) => m.paused);
    el.dataset.i18n = paused ? "paused" : all[0].state;
    el.textContent = t(el.dataset.i18n) + (paused && all[0].paused_reason ? " (" + all[0].paused_reason + ")" : "");
  }
  async function setPaused(paused) {
    $("status-error").textContent = "";
    const r = await api("POST", "/api/agent/pause", { paused, reason: paused ? $("pause-reason").value : "" });
    if (r.status !== 200) $("status-error").textContent = (r.data && r.data.message) || ("HTTP " + r.status);
  }
  $("ready").addEventListener("click", () => setPaused(false));
  $("pause").addEventListener("click", () => setPaused(true));

  // --- the card -----------------------------------------------------------------------
  function text(id, value) { $(id).textContent = value == null || value === "" ? "—" : String(value); }
  function renderCard() {
    const pop = state.current ? state.pops.get(state.current) : null;
    const card = $("card");
    if (!pop) {
      card.className = "card idle"; $("card-body").hidden = true;
      $("card-state").textContent = t("no_call"); $("call-timer").hidden = true; return;
    }
    card.className = "card " + pop.state;
    $("card-body").hidden = false;
    $("card-state").textContent = t("call_" + pop.state);
    $("card-incomplete").hidden = !pop.incomplete;
    const c = pop.customer;
    $("card-name").textContent = c ? c.name : t("unknown_caller");
    $("card-vip").textContent = c && c.vip_level ? "VIP " + c.vip_level : "";
    text("card-number", pop.caller.number + (pop.caller.name ? " (" + pop.caller.name + ")" : ""));
    text("card-account", pop.account || (c && c.account_number));
    text("card-queue", pop.queue);
    text("card-waited", pop.waited_seconds == null ? null : pop.waited_seconds + " " + t("seconds"));
    text("card-ivr", Object.entries(pop.ivr || {}).map(([k, v]) => k + "=" + v).join(", "));
    text("card-tags", c ? c.tags.join(", ") : "");
    text("card-notes", c ? c.notes : "");
    renderOpenItems(pop);
    text("card-crm", pop.crm ? JSON.stringify(pop.crm) : "");
    const body = $("card-calls").querySelector("tbody");
    body.replaceChildren(...pop.calls.map((call) => {
      const tr = document.createElement("tr");
      [new Date(call.joined_at).toLocaleString(), call.queue, t(call.outcome),
       label(call.disposition_label, call.disposition) || "—", call.answered_by || "—"].forEach((v) => { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); });
      return tr;
    }));
    const timer = $("call-timer");
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

  function label(labels, code) { return labels ? (labels[state.lang || "zh"] || code) : code; }
  function span(cls, value) { const el = document.createElement("span"); el.className = cls; el.textContent = value; return el; }
  // Open items: the caller's follow-ups, most urgent first; overdue ones marked.
  function renderOpenItems(pop) {
    const items = pop.open_items || [];
    const total = pop.open_items_total == null ? items.length : pop.open_items_total;
    $("card-open-count").textContent = String(total);
    $("card-open-count").className = "pill" + (items.some((i) => i.overdue) ? " off" : "");
    const rows = items.map((item) => {
      const li = document.createElement("li");
      li.className = "open-item" + (item.overdue ? " overdue" : "");
      li.dataset.callId = item.call_id;
      li.appendChild(span("due", t("due") + " " + item.due));
      if (item.overdue) li.appendChild(span("overdue-flag", t("overdue_by").replace("{n}", item.days_overdue)));
      li.appendChild(span("disposition", label(item.disposition_label, item.disposition)));
      if (item.notes) { li.appendChild(document.createTextNode(" · ")); li.appendChild(span("notes", item.notes)); }
      const meta = t("follow_up") + " · " + t("call_of") + " " + new Date(item.call_at).toLocaleString() +
        (item.answered_by ? " · " + t("answered_by") + " " + item.answered_by : "");
      li.appendChild(document.createElement("br"));
      li.appendChild(span("meta", meta));
      return li;
    });
    if (!items.length) { const li = document.createElement("li"); li.className = "empty"; li.textContent = t("none"); rows.push(li); }
    if (total > items.length) { const li = document.createElement("li"); li.className = "more"; li.textContent = t("more_items").replace("{n}", total - items.length); rows.push(li); }
    $("card-open-items").replaceChildren(...rows);
    $("card-open-note").hidden = (pop.open_items_tracked || []).includes("complaint");
  }

  // --- customer form ------------------------------------------------------------------
  function fillForm(pop) {
    const c = pop.customer;
    $("cf-id").value = c ? c.id : "";
    $("cf-name").value = c ? c.name : "";
    $("cf-phones").value = c ? c.phones.join(", ") : pop.caller.number;
    $("cf-account").value = c ? (c.account_number || "") : (pop.account || "");
    $("cf-vip").value = c ? c.vip_level : 0;
    $("cf-language").value = c ? c.language : (state.lang || "zh");
    $("cf-tags").value = c ? c.tags.join(", ") : "";
    $("cf-notes").value = c ? c.notes : "";
    $("cf-result").textContent = "";
  }
  $("customer-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const split = (s) => s.split(/[,，]/).map((x) => x.trim()).filter(Boolean);
    const body = { name: $("cf-name").value, phones: split($("cf-phones").value),
      account_number: $("cf-account").value.trim() || null, vip_level: Number($("cf-vip").value || 0),
      language: $("cf-language").value, tags: split($("cf-tags").value), notes: $("cf-notes").value };
    const id = $("cf-id").value;
    const r = await api(id ? "PUT" : "POST", id ? "/api/customers/" + id : "/api/customers", body);
    if (r.status === 200 || r.status === 201) {
      $("cf-id").value = r.data.id; $("cf-result").textContent = t("saved");
      const pop = state.current ? state.pops.get(state.current) : null;
      if (pop) { pop.customer = r.data; pop.known = true; renderCard(); }
    } else $("cf-result").textContent = (r.data && r.data.message) || ("HTTP " + r.status);
  });

  // --- recent calls -------------------------------------------------------------------
  function addRecent(pop) {
    const tr = document.createElement("tr");
    tr.dataset.popId = pop.pop_id;
    [new Date(pop.rung_at).toLocaleTimeString(), pop.caller.number, pop.customer ? pop.customer.name : "—",
     pop.queue, t("call_ringing")].forEach((v) => { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); });
    const body = $("recent").querySelector("tbody");
    body.insertBefore(tr, body.firstChild);
    while (body.children.length > 50) body.removeChild(body.lastChild);
  }
  function setRecent(pop, key) {
    const tr = [...$("recent").querySelectorAll("tbody tr")].find((r) => r.dataset.popId === pop.pop_id);
    if (tr) tr.lastChild.textContent = t(key);
  }

  // --- start --------------------------------------------------------------------------
  applyLanguage();
  api("GET", "/api/me").then((r) => (r.status === 200 ? showConsole(r.data.user) : showLogin()))
    .catch(showLogin);
})();
