// What the agent console and the supervisor wallboard share: DOM helpers, the JSON API call,
// the live WebSocket with jittered exponential back-off, and i18n. An ES module, no build
// step; served at /static/common/common.js and imported by each page's own module.
//
// Nothing here writes inline styles or inline handlers: the pages run under a
// Content-Security-Policy of script-src 'self' / style-src 'self'.

// --- DOM ------------------------------------------------------------------------------------

/** The first element matching a CSS selector (`$("#login-form")`), or null. */
export const $ = (selector, root = document) => root.querySelector(selector);

/** Every element matching a CSS selector, as an array. */
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/**
 * Builds an element: `el("td", { class: "num", "data-id": id, onclick: fn }, "text", child)`.
 * `class` sets className, `on<event>` adds a listener, `style` (an object) goes through the
 * CSSOM (allowed under style-src 'self', unlike a style attribute), null/undefined are
 * skipped, everything else is an attribute.
 */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (name === "class") node.className = value;
    else if (name === "style") Object.assign(node.style, value);
    else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

// --- the JSON API ---------------------------------------------------------------------------

/**
 * A failed API call. Carries the server's error shape `{status, error, message, ...}`:
 * `status` is the HTTP status (0 when the server could not be reached), `error` the
 * machine-readable code, `body` the whole JSON answer (null when it was not JSON).
 */
export class ApiError extends Error {
  constructor(status, error, message, body = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.error = error;
    this.body = body;
  }
}

/**
 * Calls the API with a JSON body (when given) and resolves to the JSON answer (null when
 * the answer has no JSON body). Rejects with an ApiError on any status outside 2xx and on
 * network failure.
 */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const options = { method, credentials: "same-origin", headers };
  if (method !== "GET" && method !== "HEAD") headers["Content-Type"] = "application/json";
  if (body !== undefined) options.body = JSON.stringify(body);
  let response;
  try {
    response = await fetch(path, options);
  } catch (exc) {
    throw new ApiError(0, "network", (exc && exc.message) || "network error");
  }
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (response.ok) return data;
  const shaped = data && typeof data === "object" ? data : null;
  throw new ApiError(
    response.status,
    (shaped && shaped.error) || "http-" + response.status,
    (shaped && shaped.message) || "HTTP " + response.status,
    shaped,
  );
}

// --- the live socket ------------------------------------------------------------------------

/**
 * A WebSocket to `path` (same host) that reconnects by itself, with exponential back-off and
 * jitter so that every browser does not come back in the same instant after a restart.
 *
 *   const socket = liveSocket("/ws/live", {
 *     onMessage: (msg) => ...,              // each JSON message
 *     onState: (state, info) => ...,        // "connecting" | "open" | "retrying" | "stopped"
 *     beforeRetry: async () => true,        // false: stop instead of reconnecting
 *   });
 *   socket.start(); ... socket.stop();
 *
 * The wait before attempt n is drawn from [d/2, d] with d = min(maxMs, baseMs * 2^n); the
 * count goes back to zero once a connection has stayed open for `stableMs`.
 */
export function liveSocket(path, options = {}) {
  const {
    onMessage = () => {}, onState = () => {}, beforeRetry = null,
    baseMs = 500, maxMs = 30000, stableMs = 5000,
  } = options;
  let ws = null;
  let timer = null;
  let attempt = 0;
  let running = false;

  function url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}${path}`;
  }

  function open() {
    if (!running) return;
    const socket = new WebSocket(url());
    let openedAt = null;
    ws = socket;
    onState("connecting", { attempt });
    socket.onopen = () => {
      if (ws !== socket) return;
      openedAt = Date.now();
      onState("open", { attempt });
    };
    socket.onmessage = (ev) => {
      if (ws !== socket) return;
      let msg;
      try { msg = JSON.parse(ev.data); } catch (_) { return; }
      onMessage(msg);
    };
    socket.onclose = () => {
      if (ws !== socket) return;
      ws = null;
      if (!running) return;
      if (openedAt !== null && Date.now() - openedAt >= stableMs) attempt = 0;
      const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
      const wait = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
      attempt += 1;
      onState("retrying", { attempt, wait });
      timer = setTimeout(retry, wait);
    };
  }

  async function retry() {
    timer = null;
    if (!running) return;
    if (beforeRetry) {
      let go = true;
      try { go = await beforeRetry(); } catch (_) { go = true; }
      if (!go) { stop(); return; }
      if (!running || ws || timer) return;
    }
    open();
  }

  function stop() {
    const wasRunning = running;
    running = false;
    if (timer) { clearTimeout(timer); timer = null; }
    const socket = ws;
    ws = null;
    if (socket) socket.close();
    if (wasRunning) onState("stopped", {});
  }

  return {
    /** Connects (again), unless already connected or connecting. */
    start() {
      if (running) return;
      running = true;
      attempt = 0;
      open();
    },
    stop,
    get running() { return running; },
  };
}

// --- i18n -----------------------------------------------------------------------------------

const LANG_KEY = "cc.lang";
const LANGS = ["zh", "en"];
const texts = { zh: {}, en: {} };
const listeners = [];
let lang = readRemembered() || (LANGS.includes(document.documentElement.lang) ? document.documentElement.lang : "zh");

function readRemembered() {
  try {
    const value = localStorage.getItem(LANG_KEY);
    return LANGS.includes(value) ? value : null;
  } catch (_) { return null; }
}

/** Adds a page's texts: `registerTexts({ zh: {...}, en: {...} })`; later keys win. */
export function registerTexts(dictionaries) {
  for (const [code, entries] of Object.entries(dictionaries)) {
    texts[code] = Object.assign(texts[code] || {}, entries);
  }
}

/** The text of `key` in the current language (then Chinese, then English, then the key). */
export function t(key) {
  for (const code of [lang, "zh", "en"]) {
    const dict = texts[code];
    if (dict && Object.prototype.hasOwnProperty.call(dict, key)) return dict[key];
  }
  return key;
}

export const getLang = () => lang;

/** The language the user chose on this browser, or null when they never chose. */
export const rememberedLang = readRemembered;

/**
 * Switches language, re-translates the page and tells the listeners. `remember` keeps the
 * choice in localStorage (a user's choice; not a default taken from their profile).
 */
export function setLang(code, { remember = true } = {}) {
  if (!LANGS.includes(code)) return;
  lang = code;
  if (remember) {
    try { localStorage.setItem(LANG_KEY, code); } catch (_) { /* private mode: not kept */ }
  }
  applyI18n();
  for (const listener of listeners) listener(code);
}

/** The other language: what the language button switches to. */
export const otherLang = () => (lang === "zh" ? "en" : "zh");

/** `fn(lang)` after every language switch (the static texts are already translated). */
export function onLangChange(fn) { listeners.push(fn); }

/**
 * Translates the static texts under `root`: `data-i18n` (text), `data-i18n-placeholder`,
 * `data-i18n-title`; and sets <html lang>.
 */
export function applyI18n(root = document) {
  document.documentElement.lang = lang;
  $$("[data-i18n]", root).forEach((n) => { n.textContent = t(n.dataset.i18n); });
  $$("[data-i18n-placeholder]", root).forEach((n) => { n.placeholder = t(n.dataset.i18nPlaceholder); });
  $$("[data-i18n-title]", root).forEach((n) => { n.title = t(n.dataset.i18nTitle); });
}

/** A button that switches between the two languages (its text: data-i18n="other_lang"). */
export function bindLangButton(button) {
  button.addEventListener("click", () => setLang(otherLang()));
}

/**
 * Shows the socket's state on a pill: class "pill on" / "pill off", text "online" /
 * "offline" (data-i18n, so a language switch keeps it right).
 */
export function showLinkState(node, state) {
  const on = state === "open";
  node.className = "pill " + (on ? "on" : "off");
  node.dataset.i18n = on ? "online" : "offline";
  node.textContent = t(node.dataset.i18n);
}
