// The work-log page (docs/worklog.md). An agent writes the log of a day: the day's figures
// drafted by the service (GET /api/worklog/day), problems, suggestions and notes by category,
// a summary; saves (PUT) and submits (POST .../submit), each naming the version it read. A
// supervisor checks the logs the service picks (GET /api/worklog/review): opens one, comments,
// signs it off or sends it back; and reads the team roll-up of a period (GET
// /api/worklog/rollup). Plain JS (an ES module), rendering only through textContent and
// createElement, no inline script or style.
import {
  $, el, api, ApiError, t, getLang, setLang, rememberedLang, applyI18n, onLangChange,
  bindLangButton,
} from "/static/common/common.js";
import "./i18n.js";

const state = {
  user: null,
  options: null, // GET /api/worklog/options
  log: null, // the log shown on "my log"
  entries: [], // the entries being edited
  history: [],
  review: [],
  reviewPeriod: null,
  detail: null, // the log open in the dialog
  rollup: null,
  view: "mine",
  messages: {}, // node id -> { ok, words } (words re-run on a language switch)
};

const holds = (user, p) => Boolean(user && (user.permissions || []).includes(p));
const fill = (key, values) => Object.entries(values).reduce((s, [k, v]) => s.replaceAll(`{${k}}`, v), t(key));
const label2 = (x) => (getLang() === "en" ? x.label_en || x.label_zh : x.label_zh || x.label_en) || x.code || x.name;
const locale = () => (getLang() === "zh" ? "zh-CN" : "en-GB");
// Every time is shown on the centre's clock (GET /api/worklog/options gives its zone), not
// the browser's: a log's day is the centre's day wherever the page is opened.
const zone = () => (state.options && state.options.timezone) || undefined;
function when(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(locale(), {
    timeZone: zone(), month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).format(new Date(iso));
}
function duration(seconds) {
  const s = Math.max(0, Math.round(seconds || 0));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  if (h) return `${fill("h", { n: h })} ${fill("m", { n: m })}`;
  if (m) return fill("m", { n: m });
  return fill("s", { n: s });
}
function problemText(e) {
  if (!(e instanceof ApiError)) return `${t("failed")}: ${String(e)}`;
  const key = `err_${e.error}`;
  const text = t(key);
  // The page's own words for every code it knows; the server's (English) only otherwise.
  if (text !== key) return text;
  return `${t("failed")} (${e.status}) ${t("server_says")}${e.message}`;
}
function say(id, ok, words) {
  state.messages[id] = words ? { ok, words } : null;
  renderMessage(id);
}
function renderMessage(id) {
  const node = $(`#${id}`);
  const m = state.messages[id];
  node.className = "result " + (m && m.ok ? "ok" : "error");
  node.textContent = m ? m.words() : "";
}
async function call(method, path, body) {
  try {
    return await api(method, path, body);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) showLogin("");
    throw e;
  }
}

// --- login and views ------------------------------------------------------------------------

function showLogin(message) {
  state.user = null;
  if ($("#detail").open) $("#detail").close();
  $("#login-view").hidden = false;
  $("#mine-view").hidden = true; $("#review-view").hidden = true; $("#tabs").hidden = true;
  $("#logout").hidden = true; $("#who").textContent = "";
  for (const a of document.querySelectorAll("#pages a")) a.hidden = true;
  $("#login-error").textContent = message || "";
}

function renderNav(user) {
  // The pages this user may open: the agent's (console, handover, scorecard) and the
  // supervisor's (work items, reports).
  $("#nav-agent").hidden = !holds(user, "agent:self");
  $("#nav-handover").hidden = !holds(user, "work:own");
  $("#nav-scorecard").hidden = !(holds(user, "agent:self") || holds(user, "stats:read"));
  $("#nav-work").hidden = !holds(user, "work:supervise");
  $("#nav-reports").hidden = !holds(user, "stats:read");
}

function renderWho() {
  const u = state.user;
  const role = u ? t(`role_${u.role}`) : "";
  $("#who").textContent = u ? `${u.display_name || u.username} (${role.startsWith("role_") ? u.role : role})` : "";
}

async function showPage(user) {
  state.user = user;
  if (!rememberedLang() && user.language) setLang(user.language, { remember: false });
  $("#login-view").hidden = true; $("#logout").hidden = false;
  renderWho();
  renderNav(user);
  try {
    state.options = await call("GET", "/api/worklog/options");
  } catch (e) {
    say("log-result", false, () => problemText(e));
    return;
  }
  const writes = holds(user, "worklog:write"), reviews = holds(user, "worklog:review");
  $("#tabs").hidden = !(writes && reviews);
  const wanted = new URLSearchParams(location.search).get("view");
  showView(reviews && (!writes || wanted === "review") ? "review" : "mine");
}

function showView(view) {
  state.view = view;
  $("#mine-view").hidden = view !== "mine";
  $("#review-view").hidden = view !== "review";
  $("#tab-mine").setAttribute("aria-pressed", String(view === "mine"));
  $("#tab-review").setAttribute("aria-pressed", String(view === "review"));
  if (view === "mine") startMine();
  else startReview();
}

async function start() {
  applyI18n();
  labelStatics();
  let user;
  try {
    user = (await api("GET", "/api/me")).user;
  } catch (_) {
    showLogin("");
    return;
  }
  if (!holds(user, "worklog:write") && !holds(user, "worklog:review")) { showLogin(t("no_access")); return; }
  showPage(user);
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
  if (holds(data.user, "worklog:write") || holds(data.user, "worklog:review")) showPage(data.user);
  else showLogin(t("no_access"));
});
$("#logout").addEventListener("click", async () => {
  await api("POST", "/api/logout").catch(() => null);
  showLogin("");
});
$("#tab-mine").addEventListener("click", () => showView("mine"));
$("#tab-review").addEventListener("click", () => showView("review"));
bindLangButton($("#lang"));
onLangChange(() => {
  labelStatics();
  renderWho();
  if (!state.user || !state.options) return;
  if (state.log) renderLog();
  renderHistory();
  renderReview();
  renderRollupTeams();
  if (state.rollup) renderRollup();
  if (state.detail) renderDetail();
  Object.keys(state.messages).forEach(renderMessage);
});
function labelStatics() {
  $("#tabs").setAttribute("aria-label", t("views"));
  $("#pages").setAttribute("aria-label", t("main_nav"));
}

// --- my log ---------------------------------------------------------------------------------

async function startMine() {
  const o = state.options;
  const input = $("#day");
  input.max = o.today;
  const min = new Date(o.today + "T00:00:00Z");
  min.setUTCDate(min.getUTCDate() - o.max_back_days);
  input.min = min.toISOString().slice(0, 10);
  if (!input.value) input.value = new URLSearchParams(location.search).get("day") || o.current_day;
  await Promise.all([loadLog(), loadHistory()]);
}

$("#day").addEventListener("change", () => { say("log-result", true, null); loadLog(); });

async function loadLog() {
  const day = $("#day").value;
  if (!day) return;
  try {
    state.log = await call("GET", `/api/worklog/day?day=${encodeURIComponent(day)}`);
  } catch (e) {
    state.log = null;
    say("log-result", false, () => problemText(e));
    renderLog();
    return;
  }
  state.entries = state.log.entries.map((x) => ({ ...x }));
  $("#summary").value = state.log.summary || "";
  renderLog();
}

const editable = (log) => Boolean(log && (log.state === "draft" || log.state === "returned"));

function stateWords(log) {
  if (!log) return "";
  if (log.state === "draft" && !log.stored) return t("st_new");
  if (log.state === "signed" && log.signed_by_name) return fill("signed_by_who", { n: log.signed_by_name });
  return t(`st_${log.state}`);
}

function figureFacts(node, f) {
  node.replaceChildren();
  if (!f) return;
  const facts = [
    ["f_calls", String(f.calls)], ["f_talk", duration(f.talk_seconds)],
    ["f_callbacks", String(f.callbacks)], ["f_reached", String(f.callbacks_reached)],
    ["f_opened", String(f.items_opened)], ["f_resolved", String(f.items_resolved)],
    ["f_escalated", String(f.items_escalated)], ["f_signed_in", duration(f.signed_in_seconds)],
    ["f_pause", duration(f.pause_seconds)],
  ];
  if (f.handovers_given !== null && f.handovers_given !== undefined) {
    facts.push(["f_handovers", `${f.handovers_given} / ${f.handovers_taken}`]);
  }
  for (const [key, value] of facts) {
    node.append(el("div", { class: "fact" }, el("dt", null, t(key)), el("dd", null, value)));
  }
}

function listInto(node, items, text) {
  node.replaceChildren(...(items.length ? items.map((x) => el("li", null, text(x))) : [el("li", { class: "muted" }, t("f_none"))]));
}

function coversText(log) {
  return fill("covers", {
    a: when(log.covers_start), b: when(log.covers_end),
    how: t(log.by_shift ? "by_shift" : "by_day"),
    zone: zone() || "",
    d: when(log.deadline),
  });
}

function renderLog() {
  const log = state.log;
  const form = $("#log-form");
  $("#state").textContent = stateWords(log);
  $("#state").className = `state st-${log ? log.state : "none"}`;
  if (!log) { $("#covers").textContent = ""; form.hidden = true; return; }
  form.hidden = false;
  $("#covers").textContent = coversText(log);
  const back = $("#returned");
  back.hidden = log.state !== "returned";
  back.textContent = log.state === "returned" ? fill("returned_by", { n: log.returned_by_name || "", c: log.return_comment || "" }) : "";
  $("#figures-note").textContent = t(log.figures_frozen ? "figures_frozen" : "figures_live");
  const f = log.figures || {};
  figureFacts($("#figures"), log.figures);
  listInto($("#dispositions"), f.dispositions || [], (d) => `${label2(d)}：${d.count}`);
  listInto($("#pauses"), f.pauses || [], (p) => `${label2(p)}：${duration(p.seconds)}`);
  renderEntries();
  const open = editable(log);
  $("#summary").disabled = !open;
  $("#add-entry").hidden = !open;
  $("#save").disabled = !open;
  $("#submit").disabled = !open;
  renderComments($("#mine-comments"), log.comments || []);
}

function renderEntries() {
  const open = editable(state.log);
  const list = $("#entries");
  const cats = state.options.categories;
  list.replaceChildren(...state.entries.map((entry, i) => {
    const n = i + 1;
    const kind = el("select", { id: `e-kind-${n}`, "aria-label": `${fill("entry_n", { n })} ${t("kind")}` },
      ...["problem", "suggestion", "note"].map((k) => el("option", { value: k }, t(`k_${k}`))));
    kind.value = entry.kind;
    const category = el("select", { id: `e-cat-${n}`, "aria-label": `${fill("entry_n", { n })} ${t("category")}` },
      ...cats.map((c) => el("option", { value: c.code }, label2(c))));
    category.value = entry.category;
    const text = el("textarea", { id: `e-text-${n}`, rows: "2", maxlength: "2000", required: "",
      "aria-label": `${fill("entry_n", { n })} ${t("text")}` });
    text.value = entry.text;
    kind.addEventListener("change", () => { entry.kind = kind.value; });
    category.addEventListener("change", () => { entry.category = category.value; });
    text.addEventListener("input", () => { entry.text = text.value; });
    for (const c of [kind, category, text]) c.disabled = !open;
    const remove = el("button", { type: "button", class: "remove", "aria-label": `${t("remove")} ${fill("entry_n", { n })}`,
      onclick: () => { state.entries.splice(i, 1); renderEntries(); $("#add-entry").focus(); } }, t("remove"));
    remove.hidden = !open;
    return el("li", { class: `entry k-${entry.kind}` }, el("div", { class: "entry-head" }, kind, category, remove), text);
  }));
}

$("#add-entry").addEventListener("click", () => {
  state.entries.push({ kind: "problem", category: state.options.categories[0].code, text: "" });
  renderEntries();
  $(`#e-text-${state.entries.length}`).focus();
});

function logBody() {
  return {
    day: state.log.day,
    version: state.log.version,
    summary: $("#summary").value,
    entries: state.entries.filter((e) => e.text.trim()).map((e) => ({ kind: e.kind, category: e.category, text: e.text.trim() })),
  };
}

async function send(submit) {
  if (!editable(state.log)) return;
  try {
    state.log = await call(submit ? "POST" : "PUT", submit ? "/api/worklog/day/submit" : "/api/worklog/day", logBody());
    state.entries = state.log.entries.map((x) => ({ ...x }));
    say("log-result", true, () => t(submit ? "submitted" : "saved"));
    renderLog();
    loadHistory();
  } catch (e) {
    say("log-result", false, () => problemText(e));
    if (e instanceof ApiError && e.status === 409) {
      const message = state.messages["log-result"];
      await loadLog();
      state.messages["log-result"] = message;
      renderMessage("log-result");
    }
  }
}
$("#log-form").addEventListener("submit", (ev) => { ev.preventDefault(); send(false); });
$("#submit").addEventListener("click", () => send(true));

function renderComments(node, comments) {
  node.replaceChildren(...(comments.length ? comments.map((c) => el("li", { class: `c-${c.kind}` },
    el("span", { class: "c-who" }, `${c.author_name} · ${when(c.at)} · ${t(`c_${c.kind}`)}`),
    c.text ? el("span", { class: "c-text" }, c.text) : null)) : [el("li", { class: "muted" }, t("no_comments"))]));
}

async function loadHistory() {
  const last = state.options.today;
  const first = $("#day").min || last;
  try {
    state.history = (await call("GET", `/api/worklogs?first=${first}&last=${last}`)).logs;
  } catch (_) {
    state.history = [];
  }
  renderHistory();
}

function renderHistory() {
  const body = $("#history tbody");
  $("#history-empty").hidden = state.history.length > 0;
  body.replaceChildren(...state.history.map((log) => el("tr", null,
    el("td", null, el("button", { type: "button", class: "link", "aria-label": fill("open_day", { d: log.day }),
      onclick: () => { $("#day").value = log.day; loadLog(); $("#log-title").scrollIntoView(); } }, log.day)),
    el("td", null, el("span", { class: `state st-${log.state}` }, t(`st_${log.state}`))),
    el("td", null, log.on_time === null || log.on_time === undefined ? "—" : t(log.on_time ? "yes" : "no")),
    el("td", null, log.signed_by_name || "—"),
    el("td", null, log.state === "returned" ? log.return_comment || "" : ""))));
}

// --- the supervisor's check -----------------------------------------------------------------

async function startReview() {
  renderRollupTeams();
  const o = state.options;
  if (!$("#r-last").value) $("#r-last").value = o.today;
  if (!$("#r-first").value) {
    const first = new Date(o.today + "T00:00:00Z");
    first.setUTCDate(first.getUTCDate() - 6);
    $("#r-first").value = first.toISOString().slice(0, 10);
  }
  await Promise.all([loadReview(), loadRollup()]);
}

async function loadReview() {
  // The service's window follows the check's period (a week back by day; from last week's
  // Monday by week) and says which it took.
  try {
    const answer = await call("GET", "/api/worklog/review");
    state.review = answer.logs;
    state.reviewPeriod = { from: answer.first, to: answer.last, share: answer.share, period: answer.period };
  } catch (e) {
    state.review = [];
    say("review-result", false, () => problemText(e));
  }
  renderReview();
}

function renderReview() {
  if (!state.reviewPeriod) return;
  const p = state.reviewPeriod;
  $("#review-note").textContent = p.share >= 1
    ? fill("review_all", p)
    : fill("review_note", { ...p, share: `${Math.round(p.share * 100)}%`, period: t(`period_${p.period}`) });
  $("#review-empty").hidden = state.review.length > 0;
  $("#review tbody").replaceChildren(...state.review.map((log) => {
    const counted = (kind) => log.entries.filter((e) => e.kind === kind).length;
    return el("tr", null,
      el("td", null, el("button", { type: "button", class: "link",
        "aria-label": fill("open_log", { n: log.user_name, d: log.day }), onclick: () => openLog(log.id) }, log.user_name)),
      el("td", null, log.day),
      el("td", null, when(log.submitted_at)),
      el("td", null, t(log.on_time ? "yes" : "no")),
      el("td", null, `${counted("problem")} / ${counted("suggestion")}`));
  }));
}

async function openLog(id) {
  say("detail-result", true, null);
  try {
    state.detail = await call("GET", `/api/worklogs/${id}`);
  } catch (e) {
    say("review-result", false, () => problemText(e));
    return;
  }
  $("#d-comment").value = "";
  renderDetail();
  if (!$("#detail").open) $("#detail").showModal();
}

function renderDetail() {
  const log = state.detail;
  $("#detail-title").textContent = `${fill("detail_title", { n: log.user_name, d: log.day })} · ${stateWords(log)}`;
  $("#d-covers").textContent = coversText(log);
  figureFacts($("#d-figures"), log.figures);
  const cats = new Map(state.options.categories.map((c) => [c.code, c]));
  $("#d-entries").replaceChildren(...log.entries.map((e) => el("li", { class: `entry k-${e.kind}` },
    el("span", { class: "tag" }, `${t(`k_${e.kind}`)} · ${cats.has(e.category) ? label2(cats.get(e.category)) : e.category}`),
    el("span", null, e.text))));
  $("#d-summary").textContent = log.summary || "—";
  renderComments($("#d-comments"), log.comments || []);
  const pending = log.state === "submitted";
  $("#d-sign").disabled = !pending;
  $("#d-return").disabled = !pending;
}

async function act(kind) {
  const log = state.detail;
  const comment = $("#d-comment").value.trim();
  if (kind === "return" && !comment) { say("detail-result", false, () => t("comment_needed")); $("#d-comment").focus(); return; }
  try {
    if (kind === "comment") {
      if (!comment) { $("#d-comment").focus(); return; }
      state.detail = await call("POST", `/api/worklogs/${log.id}/comment`, { text: comment });
    } else {
      if (comment && kind === "sign") await call("POST", `/api/worklogs/${log.id}/comment`, { text: comment });
      const body = kind === "sign" ? { version: log.version } : { version: log.version, comment };
      state.detail = await call("POST", `/api/worklogs/${log.id}/${kind}`, body);
    }
    $("#d-comment").value = "";
    say("detail-result", true, () => t(kind === "sign" ? "signed_ok" : kind === "return" ? "returned_ok" : "commented_ok"));
    renderDetail();
    loadReview();
  } catch (e) {
    say("detail-result", false, () => problemText(e));
    try { state.detail = await call("GET", `/api/worklogs/${log.id}`); renderDetail(); } catch (_) { /* shown above */ }
    loadReview();
  }
}
$("#d-sign").addEventListener("click", () => act("sign"));
$("#d-return").addEventListener("click", () => act("return"));
$("#d-add-comment").addEventListener("click", () => act("comment"));
$("#detail-close").addEventListener("click", () => $("#detail").close());

// --- the team roll-up (客服部定期汇总) -----------------------------------------------------------

function renderRollupTeams() {
  const select = $("#r-team");
  const keep = select.value;
  select.replaceChildren(el("option", { value: "" }, t("all_teams")),
    ...(state.options ? state.options.teams : []).map((team) => el("option", { value: String(team.id) }, label2(team))));
  select.value = keep;
}

async function loadRollup() {
  const params = new URLSearchParams({ first: $("#r-first").value, last: $("#r-last").value });
  if ($("#r-team").value) params.set("team", $("#r-team").value);
  try {
    state.rollup = await call("GET", `/api/worklog/rollup?${params}`);
    say("rollup-result", true, null);
  } catch (e) {
    state.rollup = null;
    say("rollup-result", false, () => problemText(e));
  }
  renderRollup();
}
$("#rollup-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadRollup(); });

function renderRollup() {
  const r = state.rollup;
  const totals = $("#totals");
  totals.replaceChildren();
  $("#agents tbody").replaceChildren();
  $("#categories").replaceChildren();
  if (!r) return;
  const x = r.totals;
  for (const [key, value] of [
    ["t_due", x.due], ["t_missing", x.missing], ["t_submitted", x.submitted], ["t_on_time", x.on_time], ["t_signed", x.signed],
    ["t_returned", x.returned], ["t_calls", x.calls], ["t_talk", duration(x.talk_seconds)],
    ["t_items", `${x.items_opened} / ${x.items_resolved}`],
  ]) totals.append(el("div", { class: "fact" }, el("dt", null, t(key)), el("dd", null, String(value))));
  $("#agents tbody").replaceChildren(...r.agents.map((a) => el("tr", null,
    el("th", { scope: "row" }, a.name), el("td", { class: "num" }, String(a.due)),
    el("td", { class: "num" }, String(a.missing)), el("td", { class: "num" }, String(a.submitted)),
    el("td", { class: "num" }, String(a.on_time)), el("td", { class: "num" }, String(a.signed)),
    el("td", { class: "num" }, String(a.calls)), el("td", { class: "num" }, duration(a.talk_seconds)))));
  const lines = (items) => el("ul", { class: "lines" }, ...items.map((p) =>
    el("li", null, el("span", { class: "by" }, `${p.name} · ${p.day}`), el("span", null, p.text))));
  const blocks = r.categories.map((c) => el("section", { class: "category", "aria-label": label2(c) },
    el("h3", null, label2(c)),
    c.problems.length ? el("h4", null, `${t("problems")}（${c.problems.length}）`) : null,
    c.problems.length ? lines(c.problems) : null,
    c.suggestions.length ? el("h4", null, `${t("suggestions")}（${c.suggestions.length}）`) : null,
    c.suggestions.length ? lines(c.suggestions) : null));
  $("#categories").replaceChildren(...(blocks.length ? blocks : [el("p", { class: "muted" }, t("nothing_written"))]));
}

start();
