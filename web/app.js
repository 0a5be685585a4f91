// The page's router and start-up: its state, the screens by name, go() and render(), home() by scope, start().
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
     lang.js                    t(), dates, the language picker
     dom.js                     $, h(), messages, buttons, forms and fields
     api.js                     api(), ApiError, errorText(), a token's claims
     screens-account.js         Account Security, Attach and Delete Authenticator, recovery codes
     screens-phone.js           the secure phone
     screens-devices.js         trusted devices, third-party client security passwords
     screens-logon.js           logon verification, Method 1, the result handed back
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
      h("div", { class: "buttons" }, button(t("button.retry"), async () => (state.token ? home() : location.reload())))),
  }),

  ...ACCOUNT_VIEWS,
  ...PHONE_VIEWS,
  ...DEVICE_VIEWS,
  ...LOGON_VIEWS,
  ...ADMIN_VIEWS,
};

function go(view, data, options) {
  state.view = view;
  state.v = data || {};
  $("#status").replaceChildren();
  render(options);
}

function render(options) {
  options = options || {};
  const main = $("#main");
  const saved = options.keepInputs ? saveInputs(main) : null;
  const screen = VIEWS[state.view]();
  main.replaceChildren(h("p", { class: "error", id: "view-error", role: "alert" }), screen.body);
  crumbs(screen.crumbs || []);
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
  if (s.includes("mfa:logon")) return state.dev ? go("logon_password") : startLogon();
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
    state.handoff = fragment.get("origin");
    history.replaceState(null, "", location.pathname + location.search);
    showWho();
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
  await load(home);
}

start();
