// The page's router and start-up: its state, the screens by name and their addresses (#/...), go() and render(),
// Back and Forward, the warning before unsaved one-time codes are left, home() by scope, start().
/* The reference page for the MFA service: Account Security, Attach Authenticator, Logon verification,
   Delete Authenticator, trusted devices, third-party client security passwords, and the admin's policy,
   user lookup and audit trail. Plain DOM, no build step; it calls only the public HTTP API (docs/API.md).

   Where the token comes from:
   - deployed: the mail product opens the page with `#token=<JWT>` (and optionally `&lang=zh-CN` and
     `&origin=<its origin>`, to receive the logon result by postMessage); the token's scope picks the screen.
   - local run (`make run`): POST /v1/dev/token answers, so a dev bar mints tokens for demo users.

   The page's scripts are plain scripts (no modules, no bundler) sharing one global scope, each top-level name
   declared in exactly one of them and none named like something every window has (when, valueOf, name, status:
   hence dateText() and requiredValue()); index.html loads them in this order, this file last:
     i18n-en.js, i18n-zh-CN.js  the words (window.MFA_STRINGS)
     lang.js                    t(), tn() (plurals), dates, the language picker
     dom.js                     $, h(), messages, buttons, forms and fields
     api.js                     api(), ApiError, errorText(), server times, a token's claims
     labels.js                  device names, the default authenticator name, audit details in words
     screens-account.js         Account Security, Attach and Delete Authenticator, recovery codes
     screens-phone.js           the secure phone
     screens-devices.js         trusted devices, third-party client security passwords
     screens-logon.js           logon verification, Method 1, the result handed back
     screens-overview.js        the admin's tenant at a glance: report chart, user list, CSV, access passes
     screens-admin.js           the admin's policy, user lookup and audit trail
     devbar.js                  the local run's dev bar
     app.js                     the state, the router, start-up
   Only this file runs anything as it loads (start(), last): the others only declare. */
"use strict";

const state = {
  lang: "en",
  token: null,
  claims: {},
  dev: false,
  devChoice: { user: DEMO_USERS[0], tenant: "demo", role: "settings" },
  handoff: null, // the embedding product's origin, told the logon result by postMessage
  view: "loading",
  address: "", // the current screen's, #/...
  reopening: false, // while a screen opens from its address (a reload, Back, Forward)
  v: {}, // what the current screen shows
};

// Every screen, by name: each draws itself from state.v.
const VIEWS = {
  loading: () => ({ title: "app.title", body: h("p", { class: "hint" }, t("loading")) }),

  start: () => ({
    title: "app.title",
    body: h("div", { class: "card" },
      h("h2", null, t("start.title")),
      h("p", null, t("start.embed"))),
  }),

  problem: () => ({
    title: "problem.title",
    body: h("div", { class: "card" },
      h("h2", null, t("problem.title")),
      h("p", { class: "error" }, errorText(state.v.error)),
      state.v.error && state.v.error.code === "unauthorized" ? h("p", null, t("problem.reopen")) : null,
      // The screen that failed kept its address: trying again opens it again.
      h("div", { class: "buttons" }, button(t("button.retry"), async () => (state.token ? openRoute(hashPath()) : location.reload())))),
  }),

  ...ACCOUNT_VIEWS,
  ...PHONE_VIEWS,
  ...DEVICE_VIEWS,
  ...LOGON_VIEWS,
  ...ADMIN_VIEWS,
};

// What opens each screen's address (a view's `address`: #/attach, #/logon, ...) for Back, Forward and a reload.
// The address of a screen that showed something once (recovery codes, a logon result) opens the screen it
// came from: what it showed is not shown twice.
const ROUTES = { ...ACCOUNT_ROUTES, ...PHONE_ROUTES, ...DEVICE_ROUTES, ...LOGON_ROUTES, ...ADMIN_ROUTES };
let ticking = null; // the current screen's clock (a countdown), stopped when another is drawn

function go(view, data, options) {
  if (state.v.unsaved) {
    askToLeave(() => go(view, data, options));
    throw new Stayed();
  }
  state.view = view;
  state.v = data || {};
  render(options);
}

function render(options) {
  options = options || {};
  const main = $("#main");
  const saved = options.keepInputs ? saveInputs(main) : null;
  const screen = VIEWS[state.view]();
  main.replaceChildren(h("p", { class: "error", id: "view-error", role: "alert" }), screen.body);
  crumbs(screen.crumbs || []);
  if (screen.address) address(screen.address);
  clearInterval(ticking);
  ticking = screen.tick ? setInterval(screen.tick, 1000) : null;
  document.title = t(screen.title) + " | " + t("app.title");
  if (saved) restoreInputs(main, saved);
  if (options.focus === false) return;
  const target = (options.focus && $(options.focus, main)) || $("h2", main);
  if (target) {
    if (/^(H[1-6]|DIV|P)$/.test(target.tagName) && !target.hasAttribute("tabindex")) target.tabIndex = -1;
    target.focus();
  }
}

function saveInputs(root) {
  const values = {};
  for (const el of root.querySelectorAll("input[id], select[id]")) {
    values[el.id] = el.type === "checkbox" || el.type === "radio" ? el.checked : el.value;
  }
  return values;
}

function restoreInputs(root, values) {
  for (const [id, value] of Object.entries(values)) {
    const el = root.querySelector("#" + CSS.escape(id));
    if (!el) continue;
    if (el.type === "checkbox" || el.type === "radio") el.checked = value;
    else el.value = value;
  }
  const algorithm = $("#policy-algorithm", root);
  if (algorithm) algorithm.dispatchEvent(new Event("change"));
}

function hashPath() {
  return location.hash.startsWith("#/") ? location.hash.slice(1) : "";
}

/** The screen's address in the history: a new entry for a new screen, the same one for the same screen; the
    first screen the page draws takes the place of the address it was opened with. */
function address(path) {
  state.address = path;
  if (hashPath() === path) return;
  if (!state.reopening && ROUTES[hashPath()]) history.pushState(null, "", "#" + path);
  else history.replaceState(null, "", location.pathname + location.search + "#" + path);
}

/** The screen at `path`, if the token's scope may see it (#/logon... logon, #/admin... admin, the rest
    settings); else the token's home screen. */
async function openRoute(path) {
  const scope = path.startsWith("/logon") ? "mfa:logon" : path.startsWith("/admin") ? "mfa:admin" : "mfa:settings";
  state.reopening = true; // what it opens takes the address's place in the history: Back is not trapped
  try {
    return await (ROUTES[path] && scopes().includes(scope) ? ROUTES[path]() : home());
  } finally {
    state.reopening = false;
  }
}

/** A way out of a screen whose one-time codes are not saved yet: asked next to them, and taken only if
    the person says so. */
function askToLeave(proceed) {
  const old = $("#main .leave");
  if (old) old.remove();
  const ask = h("div", { class: "warning leave", role: "alertdialog", "aria-labelledby": "leave-text", tabindex: "-1" },
    h("p", { id: "leave-text" }, t(state.v.unsaved)),
    h("div", { class: "buttons" },
      button(t("button.stay"), async () => ask.remove()),
      button(t("button.leave"), async () => {
        state.v.unsaved = null;
        await proceed();
      }, "danger")));
  const once = $("#main [data-once]");
  (once ? once.closest(".card") : $("#main")).append(ask);
  ask.focus();
}

/** `proceed` now, or once the person says to leave the one-time codes on the screen unsaved. */
function leaving(proceed) {
  if (!state.v.unsaved) return proceed();
  askToLeave(proceed);
}

window.addEventListener("popstate", () => {
  const path = hashPath();
  if (!state.v.unsaved) return load(() => openRoute(path));
  history.pushState(null, "", "#" + state.address); // Back is held here until the person says to leave
  askToLeave(() => {
    history.replaceState(null, "", "#" + path);
    return openRoute(path);
  });
});

window.addEventListener("beforeunload", (event) => {
  if (!state.v.unsaved) return;
  event.preventDefault(); // the browser asks whether to leave (reload, close, another address)
  event.returnValue = "";
});

function crumbs(keys) {
  const nav = $("#crumbs");
  if (!keys.length) {
    nav.replaceChildren();
    return;
  }
  nav.replaceChildren(h("ol", null, keys.map((key, i) =>
    h("li", i === keys.length - 1 ? { "aria-current": "page" } : null, t(key)))));
}

async function home() {
  const s = scopes();
  if (s.includes("mfa:logon")) return logonHome();
  if (s.includes("mfa:settings")) return openSettings();
  if (s.includes("mfa:admin")) return openAdmin();
  go("start");
}

async function load(loader) {
  try {
    await loader();
  } catch (error) {
    if (error instanceof Stale) return;
    if (!(error instanceof ApiError)) console.error(error);
    go("problem", { error });
  }
}

async function start() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  state.lang = pickLang(fragment.get("lang"));
  $("#lang").addEventListener("change", (e) => setLang(e.target.value));
  applyLang();
  render({ focus: false });
  if (fragment.get("token")) {
    // Given by the embedding mail product. Out of the address bar at once: no history entry keeps it.
    state.token = fragment.get("token");
    state.claims = decodeClaims(state.token);
    history.replaceState(null, "", location.pathname + location.search);
    showWho();
    const origin = fragment.get("origin");
    if (origin && !handoffAllowed(origin)) return go("handoff_refused", { origin });
    state.handoff = origin;
    return load(home);
  }
  let choice = state.devChoice;
  try { choice = { ...choice, ...JSON.parse(stored(KEY_DEV) || "{}") }; } catch (e) { /* the default */ }
  try {
    await devToken(choice).catch((error) => {
      // 404: no dev route, so not the local run. Anything else: a remembered choice gone bad.
      if (error.status === 404 || error.code === "network") throw error;
      return devToken({ user: DEMO_USERS[0], tenant: "demo", role: "settings" });
    });
    state.dev = true; // only the local run mints tokens
  } catch (error) {
    return error.status === 404 ? go("start", {}, { focus: false }) : go("problem", { error }, { focus: false });
  }
  renderDevbar();
  await load(() => openRoute(hashPath())); // a reload, Back into the page or a link opens the screen it names
}

start();
