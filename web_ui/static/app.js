/* mscc browser pages, shared code: session and login, the API helper, the live WebSocket client and
   DOM helpers. Plain ES2020 without a build step or external resources, because the pages run on
   district LANs without internet access. Event text and the feed live in feed.js, the map in map.js;
   each page has its own small script (wall.js, console.js, field.js). */
"use strict";

const MSCC = {};

/* ---------------------------------------------------------------- DOM helpers */

/** Build an element. Strings and numbers become text nodes, so data from the API is never parsed as HTML. */
MSCC.h = function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  MSCC.setAttrs(el, attrs);
  MSCC.append(el, children);
  return el;
};

/** Build an SVG element (same rules as h). */
MSCC.svg = function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  MSCC.setAttrs(el, attrs);
  MSCC.append(el, children);
  return el;
};

MSCC.setAttrs = function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
};

MSCC.append = function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
};

MSCC.$ = (selector, root = document) => root.querySelector(selector);

/** "Haishan 海山" as two spans, so the Chinese name can be styled apart. */
MSCC.streetName = function streetName(street) {
  if (!street) return MSCC.h("span", { class: "muted" }, "district-wide");
  return MSCC.h("span", { class: "street-name" }, street.name,
    street.name_zh ? MSCC.h("span", { class: "zh", lang: "zh" }, street.name_zh) : null);
};

/* ---------------------------------------------------------------- time */

MSCC.clock = function clock(date = new Date()) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
};

/** "just now", "3 min ago", "2 h ago": last-seen times must be readable at a glance. */
MSCC.ago = function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
};

/* ---------------------------------------------------------------- session */

// One token per page: a wall screen's token must not turn a console tab in the same browser into a wall.
const TOKEN_KEY = `mscc.token.${document.body.dataset.page || "page"}`;
const FLASH_KEY = "mscc.flash";

MSCC.token = () => sessionStorage.getItem(TOKEN_KEY);

MSCC.logout = function logout(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (message) sessionStorage.setItem(FLASH_KEY, message);
  if (MSCC.live) MSCC.live.stop();
  // A fresh load is the simplest way to drop every timer, socket and rendered datum of the old session.
  location.replace(location.pathname);
};

/** Kiosk screens open /wall?token=...: keep the token, then take it out of the address bar and history. */
function takeTokenFromUrl() {
  const url = new URL(location.href);
  const token = url.searchParams.get("token");
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  url.searchParams.delete("token");
  history.replaceState(null, "", url.pathname + url.search + url.hash);
}

/* ---------------------------------------------------------------- API */

MSCC.ApiError = class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
};

/** The server's readable reason: every 4xx carries {"detail": "..."}; validation details may be a list. */
async function errorDetail(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
    if (body.detail) return JSON.stringify(body.detail);
  } catch (_) { /* not JSON: fall through to the status text */ }
  return `${response.status} ${response.statusText}`;
}

/** GET/POST with the session's token. Returns {data, headers}. Any 401 ends the session. */
MSCC.request = async function request(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  const token = MSCC.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new MSCC.ApiError(0, `server unreachable (${err.message})`);
  }
  if (response.status === 401) {
    const detail = await errorDetail(response);
    MSCC.logout(`Please log in again (${detail}).`);
    throw new MSCC.ApiError(401, detail);
  }
  if (!response.ok) throw new MSCC.ApiError(response.status, await errorDetail(response));
  return { data: await response.json(), headers: response.headers };
};

MSCC.api = async (path, options) => (await MSCC.request(path, options)).data;

/* ---------------------------------------------------------------- login form */

async function submitLogin(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = MSCC.$(".login-error", form);
  const button = MSCC.$("button[type=submit]", form);
  error.textContent = "";
  button.disabled = true;
  try {
    const response = await fetch("/api/auth/token", { method: "POST", body: new URLSearchParams(new FormData(form)) });
    if (!response.ok) {
      error.textContent = await errorDetail(response);
      return;
    }
    const { access_token: token } = await response.json();
    sessionStorage.setItem(TOKEN_KEY, token);
    form.reset();
    await enterSession();
  } catch (err) {
    error.textContent = `Cannot reach the server: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

function showLogin(message) {
  MSCC.$("#app").hidden = true;
  MSCC.$("#login").hidden = false;
  MSCC.$("#login .login-error").textContent = message || "";
  MSCC.$("#login input[name=username]").focus();
}

/* ---------------------------------------------------------------- boot */

let pageStart = null;
let pageStarted = false; // a retry and a login could both get here; the page must start only once

/** Check the token, show the page and hand over to the page's start(me); otherwise show the login form. */
async function enterSession() {
  let me;
  try {
    me = await MSCC.api("/api/auth/me");
  } catch (err) {
    if (err.status === 401) return; // logout() already reloads into the login form
    showLogin(`Cannot check the session: ${err.message}. Retrying…`);
    setTimeout(enterSession, 5000);
    return;
  }
  if (pageStarted) return;
  pageStarted = true;
  MSCC.me = me;
  MSCC.$("#login").hidden = true;
  MSCC.$("#app").hidden = false;
  const who = MSCC.$("#whoami");
  if (who) who.textContent = `${me.username} · ${me.role.replace(/_/g, " ")}`;
  try {
    await pageStart(me);
  } catch (err) {
    if (err.status === 401) return;
    // A wall screen has nobody to press reload: say what failed, then try again by itself.
    MSCC.notice(`Could not load the page data: ${err.message}. Reloading in 10 s.`);
    setTimeout(() => location.reload(), 10000);
  }
}

/** Entry point of every page: MSCC.boot({start, acceptUrlToken}). */
MSCC.boot = function boot({ start, acceptUrlToken = false }) {
  pageStart = start;
  if (acceptUrlToken) takeTokenFromUrl();
  MSCC.$("#login form").addEventListener("submit", submitLogin);
  for (const button of document.querySelectorAll("[data-action=logout]")) {
    button.addEventListener("click", () => MSCC.logout());
  }
  const flash = sessionStorage.getItem(FLASH_KEY);
  sessionStorage.removeItem(FLASH_KEY);
  if (MSCC.token()) enterSession();
  else showLogin(flash);
};

/** A one-line message under the top bar (load failures and the like). */
MSCC.notice = function notice(text) {
  const el = MSCC.$("#notice");
  if (!el) return;
  el.textContent = text;
  el.hidden = !text;
};

/* ---------------------------------------------------------------- live events */

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;
const STABLE_MS = 20000; // a connection that lasted this long resets the back-off
const SEEN_IDS = 1000; // event ids remembered to drop duplicates after a reconnect

/**
 * The /ws client. Reconnects with growing, jittered back-off so that a restarted server is not hit by
 * every screen at once. handlers: onEvent(event), onStatus(state, text), onReconnect() (reload lists:
 * events sent while we were away are lost).
 */
MSCC.LiveClient = class LiveClient {
  constructor(handlers) {
    this.handlers = handlers;
    this.attempt = 0;
    this.greetings = 0;
    this.stopped = false;
    this.seen = new Set();
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, "logout");
  }

  status(state, text) {
    if (this.handlers.onStatus) this.handlers.onStatus(state, text);
  }

  connect() {
    const token = MSCC.token();
    if (!token || this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/ws?token=${encodeURIComponent(token)}`);
    this.ws = ws;
    this.greeted = false;
    this.status("connecting", "connecting…");
    ws.onmessage = (message) => this.receive(message.data);
    ws.onclose = (event) => this.closed(event);
  }

  receive(raw) {
    let event;
    try {
      event = JSON.parse(raw);
    } catch (_) {
      return; // not ours to interpret
    }
    if (event.type === "hello") {
      this.greeted = true;
      this.openedAt = Date.now();
      this.status("live", "live");
      if (this.greetings++ > 0 && this.handlers.onReconnect) this.handlers.onReconnect();
      return;
    }
    if (event.id) {
      if (this.seen.has(event.id)) return;
      this.seen.add(event.id);
      if (this.seen.size > SEEN_IDS) this.seen.delete(this.seen.values().next().value);
    }
    this.handlers.onEvent(event);
  }

  closed(event) {
    this.ws = null;
    if (this.stopped) return;
    if (event.code === 4401) {
      MSCC.logout("Your session has ended; please log in again.");
      return;
    }
    // The server closes a bad token with 4401 after accepting; a connection that failed before any
    // greeting (a proxy, a restart) is a bare 1006, so ask the API whether the token still works (a 401
    // there logs out); otherwise it was the network, so retry.
    if (!this.greeted) MSCC.api("/api/auth/me").catch(() => {});
    if (this.greeted && Date.now() - this.openedAt > STABLE_MS) this.attempt = 0;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
    this.attempt += 1;
    this.status("down", `offline · retry in ${Math.round(delay / 1000)} s`);
    this.timer = setTimeout(() => this.connect(), delay);
  }
};

/** Start the page's live connection and show its state in #conn. */
MSCC.startLive = function startLive({ onEvent, onReconnect }) {
  const indicator = MSCC.$("#conn");
  MSCC.live = new MSCC.LiveClient({
    onEvent,
    onReconnect,
    onStatus(state, text) {
      if (!indicator) return;
      indicator.className = `conn ${state}`;
      indicator.textContent = text;
    },
  });
  MSCC.live.start();
  return MSCC.live;
};

/** A function that runs `fn` at most once per `ms`, however often it is called (live events come in bursts). */
MSCC.coalesce = function coalesce(fn, ms = 300) {
  let timer = null;
  return () => {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      fn();
    }, ms);
  };
};
