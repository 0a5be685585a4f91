/* The reference page for the MFA service: Account Security, Attach Authenticator, Logon verification,
   Delete Authenticator, trusted devices, third-party client security passwords, and the admin's policy,
   user lookup and audit trail. Plain DOM, no build step; it calls only the public HTTP API (docs/API.md).

   Where the token comes from:
   - deployed: the mail product opens the page with `#token=<JWT>` (and optionally `&lang=zh-CN` and
     `&origin=<its origin>`, to receive the logon result by postMessage); the token's scope picks the screen.
   - local run (`make run`): POST /v1/dev/token answers, so a dev bar mints tokens for demo users. */
"use strict";

(function () {
  const STRINGS = window.MFA_STRINGS;
  const LANGS = ["en", "zh-CN"];
  const KEY_LANG = "mfa.lang";
  const KEY_DEV = "mfa.dev";
  const DEMO_USERS = ["alice@example.com", "bob@example.com", "carol@example.com", "admin@example.com"];
  const SCOPES = { settings: "mfa:settings", logon: "mfa:logon", admin: "mfa:admin" };
  const APPS = ["app.alibaba", "app.microsoft", "app.google", "app.authy"];
  const EVENTS = [
    "attached", "confirmed", "verified", "failed", "locked", "unlocked", "deleted", "device_trusted",
    "device_revoked", "phone_attached", "phone_deleted", "recovery_used", "recovery_renewed", "policy_changed",
    "reset", "app_password_created", "app_password_revoked", "app_password_used",
  ];
  // The page's own directory: behind API Gateway it is /<stage>/, locally /.
  const BASE = new URL(".", document.baseURI);

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

  // ---- small helpers ------------------------------------------------------------------------------

  const $ = (selector, root) => (root || document).querySelector(selector);

  function stored(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; } // storage off in some frames
  }
  function store(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (e) { /* the choice is just not remembered */ }
  }

  function t(key, vars) {
    const table = STRINGS[state.lang] || STRINGS.en;
    let text = key in table ? table[key] : key in STRINGS.en ? STRINGS.en[key] : key;
    if (vars) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
    return text;
  }

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") el.className = value;
      else if (name === "text") el.textContent = value;
      else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  function when(iso, style) {
    if (!iso) return "";
    const date = new Date(iso);
    if (isNaN(date)) return iso;
    const options = style === "time" ? { timeStyle: "short" } : style === "date" ? { dateStyle: "medium" }
      : { dateStyle: "medium", timeStyle: "short" };
    return new Intl.DateTimeFormat(state.lang, options).format(date);
  }

  function duration(seconds) {
    if (seconds < 60) return t("unit.seconds", { n: seconds });
    if (seconds < 3600) return t("unit.minutes", { n: Math.ceil(seconds / 60) });
    return t("unit.hours", { n: Math.ceil(seconds / 3600) });
  }

  function decodeClaims(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const binary = atob(part.padEnd(Math.ceil(part.length / 4) * 4, "="));
      return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
    } catch (e) {
      return {};
    }
  }

  function scopes() {
    return String(state.claims.scope || "").split(" ");
  }

  // ---- the API ------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(code, body, status) {
      super(code);
      this.code = code;
      this.body = body || {};
      this.status = status || 0;
    }
  }

  /** An answer for a token that is no longer the page's (the dev bar switched user): dropped unseen. */
  class Stale extends Error {}

  async function api(method, path, body) {
    const token = state.token;
    const headers = {};
    if (state.token) headers.Authorization = "Bearer " + state.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(new URL(path, BASE), {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store", credentials: "omit",
      });
    } catch (e) {
      throw new ApiError("network");
    }
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (state.token !== token) throw new Stale();
    if (!response.ok) {
      throw new ApiError((data && data.error) || "unknown", data, response.status);
    }
    return { data, headers: response.headers, status: response.status };
  }

  function errorText(error) {
    if (!(error instanceof ApiError)) error = new ApiError("unknown");
    const body = error.body;
    const retry = (error.code === "locked" || error.code === "rate_limited") && body.retry_after;
    const key = "error." + error.code + (retry ? ".retry" : "");
    let text = t(key, retry ? { time: duration(body.retry_after) } : undefined);
    if (text === key) text = t("error.unknown"); // an error code this page does not know
    if (error.code === "invalid_code" && typeof body.attempts_left === "number") {
      text += " " + (body.attempts_left === 0 ? t("error.attempts_none") : t("error.attempts_left", { n: body.attempts_left }));
    }
    return text;
  }

  // ---- screens ------------------------------------------------------------------------------------

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

  const SETTINGS_CRUMBS = ["crumb.settings", "crumb.account", "crumb.security"];

  function announce(text) {
    $("#status").replaceChildren(h("p", null, text));
  }

  function showViewError(error) {
    const region = $("#view-error");
    if (region) region.textContent = errorText(error);
    if (error && error.code === "unauthorized") go("problem", { error });
  }

  /** Run an action from a button: the button is busy meanwhile, and an error is announced on the screen. */
  async function act(button, action) {
    if (button.disabled) return;
    button.disabled = true;
    const region = $("#view-error");
    if (region) region.textContent = "";
    try {
      await action();
    } catch (error) {
      if (error instanceof Stale) return;
      if (!(error instanceof ApiError)) console.error(error);
      showViewError(error);
    } finally {
      button.disabled = false;
    }
  }

  function button(label, onclick, kind) {
    return h("button", { type: "button", class: kind || null, onclick: (e) => act(e.currentTarget, onclick) }, label);
  }

  function form(id, onSubmit, ...children) {
    const errors = h("p", { class: "error", id: id + "-error", role: "alert" });
    const el = h("form", { id, novalidate: true, "aria-describedby": id + "-error" }, errors, ...children);
    el.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (el.dataset.busy) return;
      el.dataset.busy = "1";
      errors.textContent = "";
      el.querySelectorAll("[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
      const submits = el.querySelectorAll("button[type=submit]");
      submits.forEach((b) => { b.disabled = true; });
      try {
        await onSubmit(el);
      } catch (error) {
        if (error instanceof Stale) return;
        if (!(error instanceof ApiError) && !(error instanceof FieldError)) console.error(error);
        formError(el, error);
      } finally {
        delete el.dataset.busy;
        submits.forEach((b) => { b.disabled = false; });
      }
    });
    return el;
  }

  class FieldError extends Error {
    constructor(input, message) {
      super(message);
      this.input = input;
    }
  }

  function formError(el, error) {
    const region = $(".error", el);
    let input = null;
    if (error instanceof FieldError) {
      region.textContent = error.message;
      input = error.input;
    } else {
      region.textContent = errorText(error);
      if (error.code === "invalid_code" || error.code === "invalid_request") input = $("[data-main]", el);
    }
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
      if (input.select) input.select();
    }
  }

  function field(id, label, input, hint) {
    input.id = id;
    if (hint) input.setAttribute("aria-describedby", id + "-hint");
    return h("div", { class: "field" },
      h("label", { for: id }, label), input, hint ? h("p", { class: "hint", id: id + "-hint" }, hint) : null);
  }

  function codeField(id, label, hint) {
    return field(id, label, h("input", {
      type: "text", name: "code", class: "code", inputmode: "numeric", autocomplete: "one-time-code",
      pattern: "[0-9 ]*", maxlength: "11", spellcheck: "false", "data-main": true,
    }), hint);
  }

  function recoveryField(id) {
    return field(id, t("label.recovery_code"), h("input", {
      type: "text", name: "recovery_code", class: "code", autocomplete: "off", autocapitalize: "none",
      spellcheck: "false", maxlength: "20", "data-main": true,
    }), t("hint.recovery_code"));
  }

  function checkbox(id, label, checked, hint) {
    return h("div", { class: "check" },
      h("input", { type: "checkbox", id, checked, "aria-describedby": hint ? id + "-hint" : null }),
      h("div", null, h("label", { for: id }, label), hint ? h("p", { class: "hint", id: id + "-hint" }, hint) : null));
  }

  function valueOf(el, id, message) {
    const input = $("#" + id, el);
    const value = input.value.trim();
    if (!value) throw new FieldError(input, message || t("error.enter_code"));
    return value;
  }

  function codesList(codes) {
    return h("ol", { class: "codes mono", "aria-label": t("attached.codes") }, codes.map((code) => h("li", null, code)));
  }

  function saveButtons(text, filename) {
    return [
      button(t("button.copy"), async () => {
        await navigator.clipboard.writeText(text);
        announce(t("status.copied"));
      }, "secondary"),
      button(t("button.download"), async () => {
        const url = URL.createObjectURL(new Blob([text + "\n"], { type: "text/plain" }));
        const link = h("a", { href: url, download: filename, hidden: true });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 1000);
      }, "secondary"),
    ];
  }

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

    // -- Settings > Account and Security > Account Security
    settings: () => {
      const f = state.v.factors;
      const allowed = f.allowed || { methods: [], trusted_device_days: 0, app_passwords: false };
      const auth = f.authenticator;
      const badge = (on, key) => h("span", { class: "badge " + (on ? "on" : "off") }, t(key));
      const row = (title, status, detail, actions) => h("li", null,
        h("div", { class: "what" }, h("h3", null, title, " ", status), h("div", { class: "state" }, detail)),
        h("div", { class: "actions" }, actions));
      const rows = [
        row(t("settings.authenticator"), badge(auth, auth ? "state.attached" : "state.not_attached"),
          auth ? t("settings.authenticator_since", { name: auth.name || t("settings.authenticator_default"), date: when(auth.attached_at, "date") })
            : allowed.methods.includes("authenticator") ? t("settings.authenticator_none") : t("settings.not_offered"),
          auth ? button(t("button.delete_authenticator"), () => go("delete", {}), "danger")
            : allowed.methods.includes("authenticator") ? button(t("button.attach_authenticator"), () => startAttach(false)) : null),
      ];
      if (auth) {
        rows.push(row(t("settings.recovery"), null, t("settings.recovery_left", { n: f.recovery_codes_left }),
          button(t("button.new_codes"), () => go("recovery", {}), "secondary")));
      }
      rows.push(row(t("settings.phone"), badge(f.phone, f.phone ? "state.attached" : "state.not_attached"),
        f.phone ? h("span", { class: "mono" }, f.phone.number)
          : allowed.methods.includes("phone") ? t("settings.phone_none") : t("settings.not_offered"),
        f.phone ? button(t("button.delete_phone"), () => go("phone", { mode: "delete", number: f.phone.number }), "danger")
          : allowed.methods.includes("phone") ? button(t("button.attach_phone"), () => go("phone", { mode: "attach" }), "secondary") : null));
      rows.push(row(t("settings.devices"), null,
        allowed.trusted_device_days === 0 ? t("settings.devices_off") : t("settings.devices_count", { n: f.trusted_devices }),
        button(t("button.manage"), openDevices, "secondary")));
      rows.push(row(t("settings.app_passwords"), null,
        allowed.app_passwords ? t("settings.app_passwords_count", { n: f.app_passwords }) : t("settings.app_passwords_off"),
        button(t("button.manage"), openAppPasswords, "secondary")));
      return {
        title: "settings.title",
        crumbs: SETTINGS_CRUMBS,
        body: h("div", null,
          h("h2", null, t("settings.title")),
          h("p", { class: "lead" }, t("settings.lead")),
          h("div", { class: "card" }, h("ul", { class: "rows" }, rows))),
      };
    },

    // -- Attach Authenticator (Method 2 from Settings; Method 1 at logon with the logon token)
    attach: () => {
      const e = state.v.enrollment;
      const digits = e.digits || 6;
      const standard = (e.algorithm || "SHA1") === "SHA1" && digits === 6 && (e.period || 30) === 30;
      const expired = state.v.expired;
      const confirmForm = expired
        ? h("div", null,
          h("p", { class: "error", role: "alert" }, expired),
          h("div", { class: "buttons" }, button(t("button.new_qr"), () => startAttach(state.v.method1))))
        : form("attach-form", confirmAttach,
          codeField("attach-code", t("label.code"), t("attach.code_hint", { digits, issuer: e.issuer || "" })),
          h("div", { class: "buttons" },
            h("button", { type: "submit" }, t("button.attach_now")),
            button(t("button.cancel"), cancelAttach, "secondary")));
      return {
        title: "attach.title",
        crumbs: state.v.method1 ? ["crumb.logon", "attach.title"] : [...SETTINGS_CRUMBS, "attach.title"],
        body: h("div", null,
          h("h2", null, t("attach.title")),
          h("p", { class: "lead" }, state.v.method1 ? t("attach.lead_method1") : t("attach.lead")),
          h("div", { class: "card" }, h("ol", { class: "steps" },
            h("li", null,
              h("h3", null, t("attach.step_install")),
              h("p", null, t("attach.supported")),
              h("ul", { class: "apps" }, APPS.map((key) => h("li", null, t(key)))),
              h("p", { class: "hint" }, t("attach.store"))),
            h("li", null,
              h("h3", null, t("attach.step_scan")),
              h("div", { class: "qr" },
                h("img", {
                  src: e.qr_png, width: "212", height: "212", alt: t("attach.qr_alt", { account: e.account || state.claims.sub || "" }),
                  // The PNG has 6 px modules: shown at 2/3 each is 4 CSS px, crisp, and fits a 360 px screen.
                  onload: (event) => { const img = event.currentTarget; img.width = img.height = Math.round(img.naturalWidth * 2 / 3); },
                }),
                h("div", { class: "manual" },
                  h("p", null, t("attach.manual")),
                  h("code", { class: "secret", id: "manual-key", "aria-label": t("attach.manual_key") }, e.secret),
                  h("dl", { class: "facts" },
                    h("dt", null, t("attach.account")), h("dd", null, e.account || state.claims.sub || ""),
                    h("dt", null, t("attach.issuer")), h("dd", null, e.issuer || ""),
                    h("dt", null, t("attach.type")), h("dd", null, t("attach.type_totp")),
                    standard ? null : [h("dt", null, t("attach.settings")),
                      h("dd", null, t("attach.settings_value", { algorithm: e.algorithm, digits, period: e.period }))]),
                  h("p", { class: "hint" }, t("attach.expires", { time: when(e.expires_at, "time") }))))),
            h("li", null,
              h("h3", null, t("attach.step_code")),
              confirmForm)))),
      };
    },

    attached: () => ({
      title: "attached.title",
      crumbs: state.v.method1 ? ["crumb.logon", "attached.title"] : [...SETTINGS_CRUMBS, "attached.title"],
      body: h("div", null,
        h("h2", { class: "success" }, t("attached.title")),
        h("p", null, t("attached.lead")),
        h("div", { class: "card" },
          h("h3", null, t("attached.codes")),
          h("p", null, t("attached.codes_hint")),
          codesList(state.v.codes),
          h("div", { class: "buttons" },
            saveButtons(state.v.codes.join("\n"), "recovery-codes.txt"),
            state.v.mfaToken
              ? button(t("button.continue"), async () => logonDone(state.v.mfaToken, {}))
              : button(t("button.done"), openSettings)))),
    }),

    // -- Delete Authenticator: a current code (or a recovery code) and Next
    delete: () => ({
      title: "delete.title",
      crumbs: [...SETTINGS_CRUMBS, "delete.title"],
      body: h("div", null,
        h("h2", null, t("delete.title")),
        h("div", { class: "card" },
          h("p", null, state.v.recovery ? t("delete.lead_recovery") : t("delete.lead")),
          form("delete-form", confirmDelete,
            state.v.recovery ? recoveryField("delete-recovery") : codeField("delete-code", t("label.code")),
            h("div", { class: "buttons" },
              h("button", { type: "submit" }, t("button.next")),
              button(t("button.cancel"), openSettings, "secondary"))),
          h("div", { class: "alt" },
            h("button", {
              type: "button", class: "link",
              onclick: () => { state.v.recovery = !state.v.recovery; render({ focus: state.v.recovery ? "#delete-recovery" : "#delete-code" }); },
            }, state.v.recovery ? t("delete.use_code") : t("delete.use_recovery"))))),
    }),

    deleted: () => ({
      title: "deleted.title",
      crumbs: [...SETTINGS_CRUMBS, "delete.title"],
      body: h("div", { class: "card" },
        h("h2", { class: "success" }, t("deleted.title")),
        h("p", null, t("deleted.lead")),
        h("div", { class: "buttons" }, button(t("button.back"), openSettings))),
    }),

    // -- New recovery codes for a current code
    recovery: () => ({
      title: "recovery.title",
      crumbs: [...SETTINGS_CRUMBS, "recovery.title"],
      body: h("div", null,
        h("h2", null, t("recovery.title")),
        h("div", { class: "card" }, state.v.codes
          ? [h("p", null, t("attached.codes_hint")), codesList(state.v.codes),
            h("div", { class: "buttons" }, saveButtons(state.v.codes.join("\n"), "recovery-codes.txt"), button(t("button.done"), openSettings))]
          : [h("p", null, t("recovery.lead")),
            form("recovery-form", renewCodes, codeField("recovery-code", t("label.code")),
              h("div", { class: "buttons" },
                h("button", { type: "submit" }, t("button.new_codes")),
                button(t("button.cancel"), openSettings, "secondary")))])),
    }),

    // -- Secure phone (SMS)
    phone: () => {
      const v = state.v;
      const attach = v.mode === "attach";
      const parts = [];
      if (attach) {
        parts.push(h("p", null, t("phone.attach_lead")));
        parts.push(form("phone-number-form", sendPhoneCode,
          field("phone-number", t("label.phone"), h("input", {
            type: "tel", autocomplete: "tel", inputmode: "tel", placeholder: "+8613800001234", maxlength: "32", "data-main": true,
          }), t("hint.phone")),
          h("div", { class: "buttons" }, h("button", { type: "submit", class: v.sent ? "secondary" : null },
            v.sent ? t("button.send_again") : t("button.send_code")))));
      } else {
        parts.push(h("p", null, t("phone.delete_lead", { number: v.number })));
        parts.push(h("div", { class: "buttons" }, button(v.sent ? t("button.send_again") : t("button.send_code_phone"), sendDeleteCode, "secondary")));
      }
      if (v.sent) parts.push(h("p", { class: "note" }, t("phone.sent", { number: v.sent })));
      if (v.sent || !attach) {
        parts.push(form("phone-code-form", attach ? confirmPhone : deletePhone,
          codeField("phone-code", attach ? t("label.sms_code") : t("label.code_or_sms")),
          h("div", { class: "buttons" },
            h("button", { type: "submit", class: attach ? null : "danger" }, attach ? t("button.attach") : t("button.delete_phone")))));
      }
      parts.push(h("div", { class: "buttons" }, button(t("button.cancel"), v.method1 ? startLogon : openSettings, "secondary")));
      return {
        title: attach ? "phone.attach_title" : "phone.delete_title",
        crumbs: v.method1 ? ["crumb.logon", "phone.attach_title"] : [...SETTINGS_CRUMBS, attach ? "phone.attach_title" : "phone.delete_title"],
        body: h("div", null, h("h2", null, t(attach ? "phone.attach_title" : "phone.delete_title")), h("div", { class: "card" }, parts)),
      };
    },

    // -- Trusted devices
    devices: () => {
      const list = state.v.devices;
      return {
        title: "devices.title",
        crumbs: [...SETTINGS_CRUMBS, "devices.title"],
        body: h("div", null,
          h("h2", null, t("devices.title")),
          h("p", { class: "lead" }, t("devices.lead")),
          h("div", { class: "card" }, list.length
            ? [h("table", { class: "stack" },
              h("caption", { class: "hint" }, t("devices.caption", { n: list.length })),
              h("thead", null, h("tr", null, ["devices.device", "devices.trusted_at", "devices.expires", "devices.last_used", "devices.action"]
                .map((key) => h("th", { scope: "col" }, t(key))))),
              h("tbody", null, list.map((d) => h("tr", null,
                h("td", { "data-label": t("devices.device") }, d.label || "-"),
                h("td", { "data-label": t("devices.trusted_at") }, when(d.created_at)),
                h("td", { "data-label": t("devices.expires") }, when(d.expires_at)),
                h("td", { "data-label": t("devices.last_used") }, when(d.last_used_at) || "-"),
                h("td", { "data-label": t("devices.action") },
                  h("button", {
                    type: "button", class: "danger", "aria-label": t("devices.remove_one", { label: d.label || d.id }),
                    onclick: (e) => act(e.currentTarget, () => revokeDevice(d.id)),
                  }, t("button.remove"))))))),
            h("div", { class: "buttons" }, button(t("button.remove_all"), revokeAllDevices, "danger"))]
            : h("p", { class: "empty" }, t("devices.none"))),
          h("div", { class: "buttons" }, button(t("button.back"), openSettings, "secondary"))),
      };
    },

    // -- Third-party client security passwords
    apppw: () => {
      const v = state.v;
      return {
        title: "apppw.title",
        crumbs: [...SETTINGS_CRUMBS, "apppw.title"],
        body: h("div", null,
          h("h2", null, t("apppw.title")),
          h("p", { class: "lead" }, t("apppw.lead")),
          v.created ? h("div", { class: "card", id: "apppw-created" },
            h("h3", null, t("apppw.created", { label: v.created.label })),
            h("p", { class: "once mono" }, v.created.password),
            h("p", null, t("apppw.created_hint", { label: v.created.label })),
            h("div", { class: "buttons" }, button(t("button.copy"), async () => {
              await navigator.clipboard.writeText(v.created.password);
              announce(t("status.copied"));
            }, "secondary"), button(t("button.done"), async () => { v.created = null; render(); }))) : null,
          v.allowed ? h("div", { class: "card" },
            form("apppw-form", createAppPassword,
              field("apppw-label", t("label.client"), h("input", { type: "text", maxlength: "64", placeholder: "Thunderbird", autocomplete: "off", "data-main": true }),
                t("hint.client")),
              h("div", { class: "buttons" }, h("button", { type: "submit" }, t("button.create_password"))))) :
            h("p", { class: "note" }, t("settings.app_passwords_off")),
          h("div", { class: "card" }, v.list.length
            ? h("table", { class: "stack" },
              h("thead", null, h("tr", null, ["apppw.client", "apppw.created_at", "devices.last_used", "devices.action"]
                .map((key) => h("th", { scope: "col" }, t(key))))),
              h("tbody", null, v.list.map((p) => h("tr", null,
                h("td", { "data-label": t("apppw.client") }, p.label),
                h("td", { "data-label": t("apppw.created_at") }, when(p.created_at)),
                h("td", { "data-label": t("devices.last_used") }, when(p.last_used_at) || "-"),
                h("td", { "data-label": t("devices.action") }, h("button", {
                  type: "button", class: "danger", "aria-label": t("apppw.revoke_one", { label: p.label }),
                  onclick: (e) => act(e.currentTarget, () => revokeAppPassword(p.id)),
                }, t("button.revoke")))))))
            : h("p", { class: "empty" }, t("apppw.none"))),
          h("div", { class: "buttons" }, button(t("button.back"), openSettings, "secondary"))),
      };
    },

    // -- Logon: the password step is the mail product's; the local run simulates it
    logon_password: () => ({
      title: "logon.password_title",
      crumbs: ["crumb.logon"],
      body: h("div", null,
        h("h2", null, t("logon.password_title")),
        h("div", { class: "card" },
          h("p", { class: "hint" }, t("logon.simulated")),
          form("password-form", async (el) => {
            valueOf(el, "logon-password", t("error.enter_password"));
            await startLogon();
          },
          field("logon-user", t("label.mailbox"), h("input", { type: "email", value: state.claims.sub || "", readonly: true, autocomplete: "username" })),
          field("logon-password", t("label.password"), h("input", { type: "password", autocomplete: "current-password", "data-main": true })),
          h("div", { class: "buttons" }, h("button", { type: "submit" }, t("button.log_on")))))),
    }),

    logon: () => {
      const v = state.v;
      const mode = v.mode;
      const parts = [];
      const trust = v.trusted_device_allowed
        ? checkbox("logon-trust", t("label.trust"), false, t("hint.trust")) : null;
      const verifyButton = h("div", { class: "buttons" }, h("button", { type: "submit" }, t("button.verify")));
      if (mode === "authenticator") {
        parts.push(h("p", null, t("logon.lead_authenticator")));
        parts.push(form("logon-form", verifyCode, codeField("logon-code", t("label.code")), trust, verifyButton));
      } else if (mode === "phone") {
        parts.push(h("p", null, t("logon.lead_phone")));
        if (v.sent) {
          parts.push(h("p", { class: "note" }, t("phone.sent", { number: v.sent })));
          parts.push(form("logon-form", verifyCode, codeField("logon-code", t("label.sms_code")), trust, verifyButton));
        }
        parts.push(h("div", { class: "buttons" }, button(v.sent ? t("button.send_again") : t("button.send_code"), sendLogonSms, v.sent ? "secondary" : null)));
      } else {
        parts.push(h("p", null, t("logon.lead_recovery")));
        parts.push(form("logon-form", verifyCode, recoveryField("logon-recovery"), trust, verifyButton));
      }
      const other = (target, key) => h("button", {
        type: "button", class: "link",
        onclick: () => { state.v.mode = target; render({ focus: target === "phone" ? null : "input[data-main]" }); },
      }, t(key));
      const alternatives = [];
      if (mode !== "authenticator" && v.methods.includes("authenticator")) alternatives.push(other("authenticator", "logon.use_authenticator"));
      if (mode !== "phone" && v.methods.includes("phone")) alternatives.push(other("phone", "logon.use_sms"));
      if (mode !== "recovery_code" && v.methods.includes("authenticator")) alternatives.push(other("recovery_code", "logon.use_recovery"));
      return {
        title: "logon.title",
        crumbs: ["crumb.logon"],
        body: h("div", null,
          h("h2", null, t("logon.title")),
          h("div", { class: "card" }, parts, alternatives.length ? h("div", { class: "alt" }, alternatives) : null)),
      };
    },

    // Method 1: no factor yet, attach one now (or skip while the grace period runs)
    logon_enroll: () => {
      const v = state.v;
      return {
        title: "logon.title",
        crumbs: ["crumb.logon"],
        body: h("div", null,
          h("h2", null, t("logon.title")),
          h("div", { class: "card" },
            h("h3", null, t("enroll.title")),
            h("p", null, t(v.methods.includes("authenticator") ? "enroll.lead" : "enroll.lead_phone")),
            h("div", { class: "buttons" },
              v.methods.includes("authenticator") ? button(t("button.attach_authenticator"), () => startAttach(true)) : null,
              v.methods.includes("phone") ? button(t("button.attach_phone"), async () => go("phone", { mode: "attach", method1: true }), "secondary") : null),
            v.skippable ? h("div", { class: "later" }, h("p", { class: "hint" }, t("enroll.grace", { date: when(v.grace_until, "date") })),
              h("div", { class: "buttons" }, button(t("button.skip"), skipEnroll, "secondary"))) : null)),
      };
    },

    logon_done: () => {
      const v = state.v;
      const amr = (v.claims.amr || [])[0];
      const how = v.how || { device: "done.device", none: "done.none", otp: "done.verified", sms: "done.verified", recovery: "done.verified" }[amr] || "done.verified";
      return {
        title: "done.title",
        crumbs: ["crumb.logon"],
        body: h("div", null,
          h("h2", { class: "success" }, t("done.title")),
          h("div", { class: "card" },
            h("p", null, t(how)),
            v.deviceExpires ? h("p", null, t("done.trusted", { date: when(v.deviceExpires, "date") })) : null,
            h("p", { class: "hint" }, t("done.handoff")),
            state.dev ? h("details", null,
              h("summary", null, t("done.result")),
              h("dl", { class: "facts" },
                h("dt", null, "amr"), h("dd", { id: "done-amr" }, (v.claims.amr || []).join(" ")),
                h("dt", null, "sub"), h("dd", null, v.claims.sub || ""),
                h("dt", null, "exp"), h("dd", null, v.claims.exp ? when(new Date(v.claims.exp * 1000).toISOString()) : "")),
              h("p", { class: "token mono" }, v.mfaToken)) : null,
            state.dev ? h("div", { class: "buttons" }, button(t("button.log_on_again"), async () => go("logon_password"))) : null)),
      };
    },

    // -- Admin: the tenant policy, a user lookup with reset/unlock, the audit trail
    admin: () => {
      const p = state.v.policy;
      const number = (id, key, value, min, max, hint) => field(id, t(key),
        h("input", { type: "number", inputmode: "numeric", min: String(min), max: String(max), step: "1", value: String(value), "data-min": min, "data-max": max }),
        hint ? t(hint) : null);
      const select = (id, key, options, value) => field(id, t(key),
        h("select", null, options.map(([v, label]) => h("option", { value: String(v), selected: String(v) === String(value) }, label))));
      const radio = (value, key) => h("div", { class: "check" },
        h("input", { type: "radio", name: "two_factor", id: "policy-2fa-" + value, value, checked: p.two_factor === value }),
        h("label", { for: "policy-2fa-" + value }, t(key)));
      const method = (value, key) => h("div", { class: "check" },
        h("input", { type: "checkbox", id: "policy-method-" + value, value, checked: p.methods.includes(value) }),
        h("label", { for: "policy-method-" + value }, t(key)));
      const warning = h("p", { id: "totp-warning", class: "note", "aria-live": "polite" }, t("admin.totp_note"));
      const policyForm = form("policy-form", savePolicy,
        h("fieldset", null, h("legend", null, t("admin.two_factor")),
          h("div", { class: "inline" }, radio("on", "admin.on"), radio("off", "admin.off")),
          p.two_factor === "on" && p.two_factor_since ? h("p", { class: "hint" }, t("admin.on_since", { date: when(p.two_factor_since) })) : null),
        h("fieldset", null, h("legend", null, t("admin.methods")),
          h("div", { class: "inline" }, method("authenticator", "admin.method_authenticator"), method("phone", "admin.method_phone"))),
        h("div", { class: "grid" },
          number("policy-device-days", "admin.device_days", p.trusted_device_days, 0, 365, "admin.device_days_hint"),
          number("policy-grace", "admin.grace", p.enroll_grace_days, 0, 90, "admin.grace_hint"),
          number("policy-max-failures", "admin.max_failures", p.lockout.max_failures, 1, 100),
          number("policy-lock-seconds", "admin.lock_seconds", p.lockout.lock_seconds, 1, 86400)),
        checkbox("policy-app-passwords", t("admin.app_passwords"), p.app_passwords),
        h("fieldset", null, h("legend", null, t("admin.totp")),
          field("policy-issuer", t("admin.issuer"), h("input", { type: "text", value: p.totp.issuer, maxlength: "64" }), t("admin.issuer_hint")),
          h("div", { class: "grid" },
            select("policy-algorithm", "admin.algorithm", [["SHA1", "SHA1"], ["SHA256", "SHA256"], ["SHA512", "SHA512"]], p.totp.algorithm),
            select("policy-digits", "admin.digits", [[6, "6"], [8, "8"]], p.totp.digits),
            select("policy-period", "admin.period", [[30, t("unit.seconds", { n: 30 })], [60, t("unit.seconds", { n: 60 })]], p.totp.period),
            select("policy-window", "admin.window", [[0, "0"], [1, "1"], [2, "2"]], p.totp.window)),
          warning),
        h("div", { class: "buttons" }, h("button", { type: "submit" }, t("button.save_policy")),
          h("span", { class: "hint" }, t("admin.version", { n: p.version }))));
      const update = () => {
        const standard = $("#policy-algorithm", policyForm).value === "SHA1" && $("#policy-digits", policyForm).value === "6"
          && $("#policy-period", policyForm).value === "30";
        warning.className = standard ? "note" : "warning";
        warning.textContent = standard ? t("admin.totp_note") : t("admin.totp_warning");
      };
      for (const id of ["#policy-algorithm", "#policy-digits", "#policy-period"]) $(id, policyForm).addEventListener("change", update);
      update();

      const lookup = state.v.lookup;
      return {
        title: "admin.title",
        crumbs: ["crumb.admin", "admin.title"],
        body: h("div", null,
          h("h2", null, t("admin.title")),
          h("div", { class: "card" }, h("h3", null, t("admin.policy", { tenant: state.claims.tenant || "" })), policyForm),
          h("div", { class: "card" },
            h("h3", null, t("admin.users")),
            form("lookup-form", lookUp,
              field("lookup-user", t("label.mailbox"), h("input", { type: "email", autocomplete: "off", "data-main": true, value: lookup ? lookup.user : null })),
              h("div", { class: "buttons" }, h("button", { type: "submit" }, t("button.look_up")))),
            lookup ? userSummary(lookup) : null),
          lookup ? h("div", { class: "card" },
            h("h3", null, t("admin.audit", { user: lookup.user })),
            auditTable(lookup.events),
            lookup.cursor ? h("div", { class: "buttons" }, button(t("button.more"), moreEvents, "secondary")) : null) : null),
      };
    },
  };

  function userSummary(lookup) {
    const s = lookup.summary;
    const yesNo = (value) => (value ? t("state.attached") : t("state.not_attached"));
    const locked = s.locked_until && new Date(s.locked_until) > new Date();
    return h("div", { id: "user-summary" },
      h("dl", { class: "facts" },
        h("dt", null, t("settings.authenticator")),
        h("dd", null, s.authenticator ? t("settings.authenticator_since", { name: s.authenticator.name || t("settings.authenticator_default"), date: when(s.authenticator.attached_at, "date") }) : yesNo(false)),
        h("dt", null, t("settings.phone")), h("dd", null, s.phone ? s.phone.number : yesNo(false)),
        h("dt", null, t("settings.recovery")), h("dd", null, t("settings.recovery_left", { n: s.recovery_codes_left })),
        h("dt", null, t("settings.devices")), h("dd", null, String(s.trusted_devices)),
        h("dt", null, t("settings.app_passwords")), h("dd", null, String(s.app_passwords)),
        h("dt", null, t("admin.locked")), h("dd", null, locked ? t("admin.locked_until", { time: when(s.locked_until) }) : t("admin.not_locked"))),
      lookup.confirmReset
        ? h("div", { class: "warning", role: "group", "aria-label": t("button.reset") },
          h("p", null, t("admin.reset_confirm", { user: lookup.user })),
          h("div", { class: "buttons" },
            button(t("button.confirm_reset"), resetUser, "danger"),
            button(t("button.cancel"), async () => { lookup.confirmReset = false; render({ focus: "#user-summary button" }); }, "secondary")))
        : h("div", { class: "buttons" },
          button(t("button.reset"), async () => { lookup.confirmReset = true; render({ focus: "#user-summary .warning button" }); }, "danger"),
          locked ? button(t("button.unlock"), unlockUser, "secondary") : null));
  }

  function auditTable(events) {
    if (!events.length) return h("p", { class: "empty" }, t("admin.no_events"));
    return h("table", { class: "stack", id: "audit" },
      h("thead", null, h("tr", null, ["admin.at", "admin.event", "admin.ip", "admin.detail"].map((key) => h("th", { scope: "col" }, t(key))))),
      h("tbody", null, events.map((e) => h("tr", null,
        h("td", { "data-label": t("admin.at") }, when(e.at)),
        h("td", { "data-label": t("admin.event") }, EVENTS.includes(e.event) ? t("event." + e.event) : e.event),
        h("td", { "data-label": t("admin.ip") }, e.ip || "-"),
        h("td", { "data-label": t("admin.detail") }, Object.entries(e.detail || {}).map(([k, v]) => k + ": " + v).join(", ") || "-")))));
  }

  // ---- actions --------------------------------------------------------------------------------------

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

  async function openSettings() {
    const factors = (await api("GET", "v1/factors")).data;
    go("settings", { factors });
  }

  async function startAttach(method1) {
    try {
      const enrollment = (await api("POST", "v1/authenticator/enroll", {})).data;
      go("attach", { enrollment, method1 });
    } catch (error) {
      if (error.code !== "already_attached" || method1) throw error;
      await openSettings();
      showViewError(error);
    }
  }

  async function cancelAttach() {
    if (state.v.method1) await startLogon();
    else await openSettings();
  }

  async function confirmAttach(el) {
    const code = valueOf(el, "attach-code");
    try {
      const result = (await api("POST", "v1/authenticator/confirm", { enrollment_id: state.v.enrollment.enrollment_id, code })).data;
      go("attached", { codes: result.recovery_codes, mfaToken: result.mfa_token || null, method1: state.v.method1 });
    } catch (error) {
      if (error.code === "enrollment_expired" || error.code === "not_found") {
        state.v.expired = errorText(error.code === "not_found" ? new ApiError("enrollment_expired") : error);
        render({ focus: "#main .steps button" });
        return;
      }
      throw error;
    }
  }

  async function confirmDelete(el) {
    const body = state.v.recovery
      ? { recovery_code: valueOf(el, "delete-recovery", t("error.enter_recovery")) }
      : { code: valueOf(el, "delete-code") };
    await api("DELETE", "v1/authenticator", body);
    go("deleted");
  }

  async function renewCodes(el) {
    const result = (await api("POST", "v1/recovery-codes", { code: valueOf(el, "recovery-code") })).data;
    state.v.codes = result.recovery_codes;
    render();
    announce(t("status.new_codes"));
  }

  async function sendPhoneCode(el) {
    const input = $("#phone-number", el);
    const number = input.value.replace(/[\s()-]/g, "");
    if (!number) throw new FieldError(input, t("error.enter_phone"));
    const sent = (await api("POST", "v1/phone", { number })).data;
    state.v.sent = sent.number;
    render({ keepInputs: true, focus: "#phone-code" });
    refreshOutbox();
  }

  async function confirmPhone(el) {
    const result = (await api("POST", "v1/phone/confirm", { code: valueOf(el, "phone-code") })).data;
    if (result.mfa_token) return logonDone(result.mfa_token, {});
    await openSettings();
    announce(t("status.phone_attached", { number: result.number }));
  }

  async function sendDeleteCode() {
    const sent = (await api("POST", "v1/phone/code", {})).data;
    state.v.sent = sent.number;
    render({ keepInputs: true, focus: "#phone-code" });
    refreshOutbox();
  }

  async function deletePhone(el) {
    await api("DELETE", "v1/phone", { code: valueOf(el, "phone-code") });
    await openSettings();
    announce(t("status.phone_deleted"));
  }

  async function openDevices() {
    const devices = (await api("GET", "v1/devices")).data;
    go("devices", { devices });
  }

  async function revokeDevice(id) {
    await api("DELETE", "v1/devices/" + encodeURIComponent(id));
    state.v.devices = (await api("GET", "v1/devices")).data;
    render({ focus: "h2" });
    announce(t("status.device_removed"));
  }

  async function revokeAllDevices() {
    await api("DELETE", "v1/devices");
    state.v.devices = [];
    render();
    announce(t("status.devices_removed"));
  }

  async function openAppPasswords() {
    const [factors, list] = await Promise.all([api("GET", "v1/factors"), api("GET", "v1/app-passwords")]);
    go("apppw", { list: list.data, allowed: factors.data.allowed.app_passwords, created: null });
  }

  async function createAppPassword(el) {
    const label = valueOf(el, "apppw-label", t("error.enter_client"));
    const created = (await api("POST", "v1/app-passwords", { label })).data;
    state.v.created = created;
    state.v.list = (await api("GET", "v1/app-passwords")).data;
    render({ focus: "#apppw-created h3" });
  }

  async function revokeAppPassword(id) {
    await api("DELETE", "v1/app-passwords/" + encodeURIComponent(id));
    state.v.list = (await api("GET", "v1/app-passwords")).data;
    state.v.created = null;
    render();
    announce(t("status.revoked"));
  }

  // -- logon

  function deviceKey() {
    return "mfa.device." + state.claims.tenant + "." + state.claims.sub;
  }

  async function startLogon() {
    const deviceToken = stored(deviceKey());
    const decision = (await api("POST", "v1/logon", deviceToken ? { device_token: deviceToken } : {})).data;
    if (decision.next === "done") {
      return logonDone(decision.mfa_token, {});
    }
    if (deviceToken) store(deviceKey(), null); // it no longer counts (expired, revoked, or the policy changed)
    if (decision.next === "verify") {
      return go("logon", { ...decision, mode: decision.methods[0] === "phone" ? "phone" : "authenticator" });
    }
    go("logon_enroll", decision);
  }

  async function verifyCode(el) {
    const mode = state.v.mode;
    const code = mode === "recovery_code" ? valueOf(el, "logon-recovery", t("error.enter_recovery")) : valueOf(el, "logon-code");
    const trust = $("#logon-trust", el);
    const result = (await api("POST", "v1/logon/verify", { method: mode, code, trust_device: !!(trust && trust.checked) })).data;
    if (result.device_token) store(deviceKey(), result.device_token);
    logonDone(result.mfa_token, { deviceExpires: result.device_expires_at });
  }

  async function sendLogonSms() {
    const sent = (await api("POST", "v1/logon/sms", {})).data;
    state.v.sent = sent.number;
    render({ focus: "#logon-code" });
    refreshOutbox();
  }

  async function skipEnroll() {
    const result = (await api("POST", "v1/logon/skip", {})).data;
    logonDone(result.mfa_token, { how: "done.skipped" });
  }

  function logonDone(mfaToken, extra) {
    const claims = decodeClaims(mfaToken);
    go("logon_done", { mfaToken, claims, ...extra });
    // The mail product that opened the page (frame or window) gets the result; it checks the token itself.
    const target = window.parent !== window ? window.parent : window.opener;
    if (state.handoff && target) target.postMessage({ type: "mfa:logon-complete", mfa_token: mfaToken }, state.handoff);
  }

  // -- admin

  async function openAdmin() {
    const policy = (await api("GET", "v1/policy")).data;
    go("admin", { policy, lookup: null });
  }

  function wholeNumber(el, id) {
    const input = $("#" + id, el);
    const min = Number(input.dataset.min);
    const max = Number(input.dataset.max);
    const value = Number(input.value);
    if (input.value.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
      throw new FieldError(input, t("error.range", { label: $("label[for=" + id + "]", el).textContent, min, max }));
    }
    return value;
  }

  async function savePolicy(el) {
    const p = state.v.policy;
    const checked = (id) => $("#" + id, el).checked;
    const chosen = ["authenticator", "phone"].filter((m) => checked("policy-method-" + m));
    if (!chosen.length) throw new FieldError($("#policy-method-authenticator", el), t("error.methods"));
    // Keep the saved order of preference; a newly allowed method goes last.
    const methods = p.methods.filter((m) => chosen.includes(m)).concat(chosen.filter((m) => !p.methods.includes(m)));
    const issuer = $("#policy-issuer", el).value.trim();
    if (!issuer) throw new FieldError($("#policy-issuer", el), t("error.issuer"));
    const body = {
      two_factor: checked("policy-2fa-on") ? "on" : "off",
      methods,
      trusted_device_days: wholeNumber(el, "policy-device-days"),
      app_passwords: checked("policy-app-passwords"),
      totp: {
        issuer,
        algorithm: $("#policy-algorithm", el).value,
        digits: Number($("#policy-digits", el).value),
        period: Number($("#policy-period", el).value),
        window: Number($("#policy-window", el).value),
      },
      lockout: { max_failures: wholeNumber(el, "policy-max-failures"), lock_seconds: wholeNumber(el, "policy-lock-seconds") },
      enroll_grace_days: wholeNumber(el, "policy-grace"),
      version: p.version,
    };
    try {
      state.v.policy = (await api("PUT", "v1/policy", body)).data;
    } catch (error) {
      if (error.code !== "conflict") throw error;
      state.v.policy = (await api("GET", "v1/policy")).data; // someone saved meanwhile: show theirs
      render({ focus: "#policy-form" });
      formError($("#policy-form"), error);
      return;
    }
    render({ focus: false });
    announce(t("status.policy_saved", { n: state.v.policy.version }));
  }

  async function fetchUser(user) {
    const path = "v1/admin/users/" + encodeURIComponent(user);
    const [summary, events] = await Promise.all([
      api("GET", path),
      api("GET", "v1/admin/events?limit=20&user=" + encodeURIComponent(user)),
    ]);
    return { user, summary: summary.data, events: events.data, cursor: events.headers.get("X-Next-Cursor") };
  }

  async function lookUp(el) {
    const user = valueOf(el, "lookup-user", t("error.enter_mailbox"));
    state.v.lookup = await fetchUser(user);
    render({ focus: "#lookup-user" });
    announce(t("status.found", { user }));
  }

  async function moreEvents() {
    const lookup = state.v.lookup;
    const page = await api("GET", "v1/admin/events?limit=20&user=" + encodeURIComponent(lookup.user) + "&cursor=" + encodeURIComponent(lookup.cursor));
    lookup.events = lookup.events.concat(page.data);
    lookup.cursor = page.headers.get("X-Next-Cursor");
    render({ focus: false });
  }

  async function resetUser() {
    const user = state.v.lookup.user;
    await api("POST", "v1/admin/users/" + encodeURIComponent(user) + "/reset", {});
    state.v.lookup = await fetchUser(user);
    render({ focus: "#user-summary button" });
    announce(t("status.reset", { user }));
  }

  async function unlockUser() {
    const user = state.v.lookup.user;
    await api("POST", "v1/admin/users/" + encodeURIComponent(user) + "/unlock", {});
    state.v.lookup = await fetchUser(user);
    render({ focus: "#user-summary button" });
    announce(t("status.unlocked", { user }));
  }

  // ---- the dev bar (local run only) ---------------------------------------------------------------

  let switches = 0;

  async function devToken(choice) {
    const mine = ++switches;
    const result = await api("POST", "v1/dev/token", { user: choice.user, tenant: choice.tenant, scope: SCOPES[choice.role] });
    if (mine !== switches) throw new Stale(); // a later switch wins
    state.token = result.data.token;
    state.claims = decodeClaims(state.token);
    state.devChoice = choice;
    store(KEY_DEV, JSON.stringify(choice));
    showWho();
  }

  function renderDevbar() {
    const bar = $("#devbar");
    const saved = saveInputs(bar);
    const c = state.devChoice;
    const open = $("details", bar) && $("details", bar).open;
    const label = (text, input) => h("label", null, text, input);
    const roleSelect = h("select", { id: "dev-role" }, Object.keys(SCOPES).map((role) =>
      h("option", { value: role, selected: role === c.role }, t("dev.role." + role))));
    const devForm = h("form", { id: "dev-form", novalidate: true },
      h("span", { class: "tag" }, t("dev.tag")),
      label(t("dev.user"), h("input", { id: "dev-user", type: "email", list: "dev-users", value: c.user, autocomplete: "off" })),
      h("datalist", { id: "dev-users" }, DEMO_USERS.map((u) => h("option", { value: u }))),
      label(t("dev.tenant"), h("input", { id: "dev-tenant", class: "tenant", type: "text", value: c.tenant, autocomplete: "off" })),
      label(t("dev.role"), roleSelect),
      h("button", { type: "submit" }, t("dev.switch")));
    devForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const choice = { user: $("#dev-user").value.trim(), tenant: $("#dev-tenant").value.trim(), role: $("#dev-role").value };
      go("loading", {}, { focus: false }); // the previous user's screen goes at once
      try {
        await devToken(choice);
        await load(home);
      } catch (error) {
        if (!(error instanceof Stale)) go("problem", { error });
      }
    });
    const outbox = h("details", { id: "outbox", open },
      h("summary", null, t("dev.outbox")),
      h("div", { class: "buttons" }, h("button", { type: "button", onclick: refreshOutbox }, t("dev.refresh"))),
      h("ul", { class: "outbox", id: "outbox-list", "aria-live": "polite" }));
    outbox.addEventListener("toggle", () => { if (outbox.open) refreshOutbox(); });
    bar.replaceChildren(devForm, outbox);
    bar.setAttribute("aria-label", t("dev.label"));
    bar.hidden = false;
    restoreInputs(bar, saved);
    if (open) refreshOutbox();
  }

  async function refreshOutbox() {
    if (!state.dev) return;
    const list = $("#outbox-list");
    if (!list) return;
    try {
      const box = (await api("GET", "v1/dev/outbox")).data;
      const items = [];
      for (const sms of box.sms) items.push(h("li", null, h("span", { class: "kind" }, t("dev.sms", { to: sms.to })), sms.message));
      for (const n of box.notifications) {
        let text = n.message;
        try {
          const m = JSON.parse(n.message);
          text = [m.event, m.user, m.at].filter(Boolean).join(" · ");
        } catch (e) { /* shown as sent */ }
        items.push(h("li", null, h("span", { class: "kind" }, t("dev.notification")), text));
      }
      list.replaceChildren(...(items.length ? items : [h("li", { class: "empty" }, t("dev.empty"))]));
    } catch (error) {
      list.replaceChildren(h("li", null, errorText(error)));
    }
  }

  // ---- language, start-up -------------------------------------------------------------------------

  function showWho() {
    const c = state.claims;
    $("#who").textContent = c.sub ? t("who", { user: c.sub, tenant: c.tenant || "" }) : "";
  }

  function applyLang() {
    document.documentElement.lang = state.lang;
    $("#lang").value = state.lang;
    $("#lang-label").textContent = t("lang.label");
    $("#skip").textContent = t("skip");
    $("#brand").textContent = t("app.title");
    showWho();
  }

  function setLang(lang) {
    state.lang = LANGS.includes(lang) ? lang : "en";
    store(KEY_LANG, state.lang);
    applyLang();
    if (state.dev) renderDevbar();
    render({ keepInputs: true, focus: false });
  }

  function pickLang(hint) {
    const wanted = [stored(KEY_LANG), hint, ...(navigator.languages || [navigator.language])];
    for (const lang of wanted) {
      if (!lang) continue;
      if (LANGS.includes(lang)) return lang;
      if (/^zh/i.test(lang)) return "zh-CN";
      if (/^en/i.test(lang)) return "en";
    }
    return "en";
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
})();
