// The supervisor wallboard: live queue figures, agents and callers over /ws/live, with the
// control actions of /api/queues/... and /api/agents/... Plain JS, no build step.
(() => {
  "use strict";

  const TEXT = {
    zh: {
      title: "班长监控墙", offline: "未连接", online: "实时", logout: "退出", login: "登录",
      username: "用户名", password: "密码", bad_login: "用户名或密码错误",
      too_many: "尝试次数过多，请稍后再试", not_staff: "仅班长和管理员可以使用监控墙",
      queues: "队列", queue: "队列", waiting: "排队", longest: "最长等待", sl: "服务水平",
      abandon_rate: "放弃率", answer_rate: "接通率",
      agents_by_state: "坐席（空闲/通话/振铃/暂停/离线）", callers: "排队来电", caller: "来电",
      waited: "等待", priority: "优先级", actions: "操作", routing: "溢出 / 高峰",
      routing_empty: "暂无溢出或高峰动作", agents: "坐席", agent: "坐席", state: "状态",
      pause_reason: "暂停原因", call_time: "当前通话", calls_taken: "已接",
      penalty: "优先级(penalty)", add_member: "添加队列成员", name: "姓名", add: "添加",
      last_hour: "最近一小时（每 5 分钟）", offered: "呼入", answered: "接通", abandoned: "放弃",
      available: "空闲", busy: "通话中", ringing: "振铃中", paused: "暂停", unavailable: "离线",
      pause: "暂停", unpause: "恢复", set: "设置", remove: "移出", logout_agent: "全部签出",
      move: "转移", withdraw: "撤出", listen: "监听", whisper: "耳语", barge: "强插",
      reason_placeholder: "原因", ok: "已完成", failed: "失败", confirm_remove: "确认移出",
      confirm_withdraw: "确认把此来电撤出队列？", confirm_logout: "确认把该坐席签出所有队列？",
      reapplied: "PBX 重启后已恢复班长设置", level: "级别", other_lang: "English",
      r_break: "休息", r_lunch: "午餐", r_training: "培训", r_meeting: "会议",
    },
    en: {
      title: "Supervisor wallboard", offline: "offline", online: "live", logout: "Log out",
      login: "Log in", username: "Username", password: "Password",
      bad_login: "Wrong username or password", too_many: "Too many attempts, try again later",
      not_staff: "Only supervisors and admins may use the wallboard",
      queues: "Queues", queue: "Queue", waiting: "Waiting", longest: "Longest wait",
      sl: "Service level", abandon_rate: "Abandon rate", answer_rate: "Answer rate",
      agents_by_state: "Agents (avail/busy/ringing/paused/unavail)", callers: "Callers waiting",
      caller: "Caller", waited: "Waited", priority: "Priority", actions: "Actions",
      routing: "Overflow / surge", routing_empty: "No overflow or surge action yet",
      agents: "Agents", agent: "Agent", state: "State", pause_reason: "Pause reason",
      call_time: "Current call", calls_taken: "Calls", penalty: "Penalty",
      add_member: "Add queue member", name: "Name", add: "Add",
      last_hour: "Last hour (5-minute bars)", offered: "Offered", answered: "Answered",
      abandoned: "Abandoned", available: "available", busy: "on a call", ringing: "ringing",
      paused: "paused", unavailable: "unavailable", pause: "Pause", unpause: "Unpause",
      set: "Set", remove: "Remove", logout_agent: "Log out", move: "Move",
      withdraw: "Withdraw", listen: "Listen", whisper: "Whisper", barge: "Barge",
      reason_placeholder: "reason", ok: "done", failed: "failed", confirm_remove: "Remove",
      confirm_withdraw: "Withdraw this caller from the queue?",
      confirm_logout: "Log this agent out of every queue?",
      reapplied: "Supervisor settings restored after a PBX restart", level: "level",
      other_lang: "中文", r_break: "Break", r_lunch: "Lunch", r_training: "Training",
      r_meeting: "Meeting",
    },
  };

  const $ = (id) => document.getElementById(id);
  let lang = localStorage.getItem("wallboard.lang") || (document.documentElement.lang || "zh");
  const t = (key) => (TEXT[lang] && TEXT[lang][key]) || TEXT.en[key] || key;

  const state = {
    user: null, queues: [], callStarts: new Map(), levels: new Map(), routing: [],
    socket: null, refreshTimer: null, barsTimer: null,
  };

  // --- helpers --------------------------------------------------------------------------

  async function api(method, path, body) {
    const options = { method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    return { status: response.status, body: data };
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null) node.setAttribute(k, v);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  const enc = encodeURIComponent;
  const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(0)}%`);
  const secs = (v) => (v === null || v === undefined ? "—" : `${Math.round(v)}s`);
  function clock(seconds) {
    if (seconds === null || seconds === undefined || seconds < 0) return "—";
    const s = Math.floor(seconds), m = Math.floor(s / 60);
    return `${String(m).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
  }
  const since = (iso) => (Date.now() - Date.parse(iso)) / 1000;

  function applyI18n() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((n) => {
      n.placeholder = t(n.dataset.i18nPlaceholder);
    });
    $("lang").textContent = t("other_lang");
    document.title = t("title");
  }

  function showResult(ok, text) {
    const node = $("action-result");
    node.className = ok ? "" : "error";
    node.textContent = text;
  }

  async function act(method, path, body) {
    const r = await api(method, path, body);
    if (r.status === 200) showResult(true, `${t("ok")}: ${(r.body.done || []).join("; ")}`);
    else showResult(false, `${t("failed")} (${r.status}): ${r.body ? r.body.message : ""}`);
    scheduleRefresh();
    return r;
  }

  // --- login ----------------------------------------------------------------------------

  function showLogin(message) {
    $("login-view").hidden = false; $("board-view").hidden = true; $("logout").hidden = true;
    $("who").textContent = "";
    $("login-error").textContent = message || "";
  }

  function showBoard(user) {
    state.user = user;
    $("login-view").hidden = true; $("board-view").hidden = false; $("logout").hidden = false;
    $("who").textContent = `${user.display_name} (${user.role})`;
    connect();
    refresh();
    loadBars();
    loadRouting();
  }

  async function start() {
    applyI18n();
    const r = await api("GET", "/api/me");
    if (r.status === 200 && ["supervisor", "admin"].includes(r.body.user.role)) {
      if (!localStorage.getItem("wallboard.lang") && r.body.user.language) {
        lang = r.body.user.language; applyI18n();
      }
      showBoard(r.body.user);
    } else {
      showLogin(r.status === 200 ? t("not_staff") : "");
    }
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await api("POST", "/api/login", { username: $("username").value,
                                                 password: $("password").value });
    if (r.status === 200) {
      if (["supervisor", "admin"].includes(r.body.user.role)) showBoard(r.body.user);
      else showLogin(t("not_staff"));
    } else {
      $("login-error").textContent = r.status === 429 ? t("too_many") : t("bad_login");
    }
  });

  $("logout").addEventListener("click", async () => {
    await api("POST", "/api/logout");
    if (state.socket) { state.socket.onclose = null; state.socket.close(); }
    showLogin("");
  });

  $("lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("wallboard.lang", lang);
    applyI18n(); render(); renderRouting(); loadBars();
  });

  // --- live feed ------------------------------------------------------------------------

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/live`);
    state.socket = socket;
    socket.onopen = () => { $("link-state").className = "pill"; $("link-state").textContent = t("online"); };
    socket.onclose = () => {
      $("link-state").className = "pill off"; $("link-state").textContent = t("offline");
      setTimeout(() => { if (state.user) connect(); }, 2000);
    };
    socket.onmessage = (ev) => onMessage(JSON.parse(ev.data));
  }

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
    const r = await api("GET", "/api/queues");
    if (r.status === 200) { state.queues = r.body.queues; render(); }
  }

  // --- rendering --------------------------------------------------------------------------

  function render() {
    renderQueues(); renderCallers(); renderAgents(); renderQueueChoices();
  }

  function renderQueues() {
    const body = $("queues").tBodies[0];
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
    const body = $("callers").tBodies[0];
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
      el("td", {}, prio, el("button", { type: "button", onclick: () =>
        act("POST", path("priority"), { priority: Number(prio.value || 0) }) }, t("set"))),
      el("td", {}, moveTo,
        el("button", { type: "button", class: "move", onclick: () =>
          act("POST", path("move"), { to_queue: moveTo.value }) }, t("move")),
        el("button", { type: "button", class: "withdraw", onclick: () => {
          if (confirm(t("confirm_withdraw"))) act("POST", path("withdraw"), {});
        } }, t("withdraw"))));
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
    const body = $("agents").tBodies[0];
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
    const reason = el("input", { class: "reason", list: "pause-reasons", placeholder: t("reason_placeholder") });
    const penalty = el("input", { class: "penalty", type: "number", min: "0", max: "1000" });
    const spy = (mode) => el("button", { type: "button", class: mode, onclick: () =>
      act("POST", `/api/agents/${enc(m.interface)}/spy${qs(q.pbx)}`, { mode }) }, t(mode));
    const row = el("tr", { "data-id": id, "data-queue": q.queue, "data-interface": m.interface },
      el("td", {}, q.queue), el("td"), el("td"), el("td"), el("td", { class: "num live-call" }),
      el("td", { class: "num" }),
      el("td", {}, penalty, el("button", { type: "button", class: "set-penalty", onclick: () =>
        act("POST", `${base}/penalty${qs(q.pbx)}`, { penalty: Number(penalty.value || 0) }) }, t("set"))),
      el("td", {}, reason,
        el("button", { type: "button", class: "pause", onclick: () =>
          act("POST", `${base}/pause${qs(q.pbx)}`, { paused: true, reason: reason.value.trim() }) }, t("pause")),
        el("button", { type: "button", class: "unpause", onclick: () =>
          act("POST", `${base}/pause${qs(q.pbx)}`, { paused: false }) }, t("unpause")),
        el("button", { type: "button", class: "remove", onclick: () => {
          if (confirm(`${t("confirm_remove")} ${m.interface} / ${q.queue}?`)) act("DELETE", `${base}${qs(q.pbx)}`);
        } }, t("remove")),
        el("button", { type: "button", class: "logout", onclick: () => {
          if (confirm(t("confirm_logout"))) act("POST", `/api/agents/${enc(m.interface)}/logout${qs(q.pbx)}`);
        } }, t("logout_agent")),
        el("span", { class: "spy" }, spy("listen"), spy("whisper"), spy("barge"))));
    body.append(row);
    return row;
  }

  function renderQueueChoices() {
    const select = $("add-queue");
    const values = state.queues.map((q) => `${q.pbx}|${q.queue}`);
    if (select.dataset.values === values.join(",")) return;
    select.dataset.values = values.join(",");
    const several = new Set(state.queues.map((q) => q.pbx)).size > 1;
    select.replaceChildren(...state.queues.map((q) =>
      el("option", { value: `${q.pbx}|${q.queue}` }, several ? `${q.queue} (${q.pbx})` : q.queue)));
  }

  $("add-member").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const [pbx, queue] = $("add-queue").value.split("|");
    act("POST", `/api/queues/${enc(queue)}/members${qs(pbx)}`, {
      interface: $("add-interface").value.trim(), name: $("add-name").value.trim(),
      penalty: Number($("add-penalty").value || 0) });
  });

  // --- routing panel ----------------------------------------------------------------------

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
    const r = await api("GET", "/api/routing/policies");
    if (r.status !== 200) return;
    for (const p of r.body.policies) {
      for (const [pbx, level] of Object.entries(p.levels || {})) {
        const id = `${pbx}/${p.queue}`;
        if (!state.levels.has(id)) state.levels.set(id, { pbx, queue: p.queue, level });
      }
    }
    renderRouting();
  }

  function renderRouting() {
    const levels = $("routing-levels");
    levels.replaceChildren(...[...state.levels.values()].map((l) =>
      el("span", { class: `level-${l.level}` }, `${l.queue}: ${l.level}`)));
    $("routing-actions").replaceChildren(...state.routing.map((m) => el("li", {}, describeRouting(m))));
    $("routing-empty").hidden = state.routing.length > 0;
  }

  // --- last hour bars ----------------------------------------------------------------------

  function scheduleBars() {
    if (state.barsTimer) return;
    state.barsTimer = setTimeout(() => { state.barsTimer = null; loadBars(); }, 2000);
  }

  async function loadBars() {
    const r = await api("GET", "/api/stats/intervals?minutes=60&step=5");
    if (r.status !== 200) return;
    const bars = r.body.intervals;
    const top = Math.max(1, ...bars.map((b) => b.offered));
    $("bars").replaceChildren(...bars.map((b) => {
      const h = (n) => `${(100 * n) / top}%`;
      const label = new Date(b.start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      return el("div", { class: "bar", title: `${label} ${t("offered")} ${b.offered} / ${t("answered")} ${b.answered} / ${t("abandoned")} ${b.abandoned}` },
        el("div", { class: "offered", style: `height:${h(b.offered)}` }),
        el("div", { class: "answered", style: `height:${h(b.answered)}` }),
        el("div", { class: "abandoned", style: `height:${h(b.abandoned)}` }),
        el("span", { class: "label" }, label));
    }));
  }

  // --- every second: clock, waits and call times move without a server round trip ------------

  setInterval(() => {
    $("clock").textContent = new Date().toLocaleTimeString();
    document.querySelectorAll("td.live-wait").forEach((c) => {
      if (c.dataset.since) c.textContent = clock(since(c.dataset.since));
    });
    document.querySelectorAll("td.live-call").forEach((c) => {
      if (c.dataset.start) c.textContent = clock((Date.now() - Number(c.dataset.start)) / 1000);
    });
  }, 1000);
  setInterval(() => { if (state.user) loadBars(); }, 60000);

  const reasons = el("datalist", { id: "pause-reasons" });
  document.body.append(reasons);
  const fillReasons = () => reasons.replaceChildren(
    ...["r_break", "r_lunch", "r_training", "r_meeting"].map((k) => el("option", { value: t(k) })));
  fillReasons();
  $("lang").addEventListener("click", fillReasons);

  start();
})();
