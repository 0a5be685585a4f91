// Small DOM helpers: $ and h(), remembered choices, status and error messages, busy buttons, forms and their fields, codes.
"use strict";

const $ = (selector, root) => (root || document).querySelector(selector);

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

function stored(key) {
  try { return window.localStorage.getItem(key); } catch (e) { return null; } // storage off in some frames
}
function store(key, value) {
  try {
    if (value === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, value);
  } catch (e) { /* the choice is just not remembered */ }
}

/** Say what an action did next to where it was done: after `near` (an element, or its selector). */
function announce(text, near) {
  document.querySelectorAll("#main .said").forEach((el) => el.remove());
  const place = typeof near === "string" ? $(near) : near;
  const said = h("p", { class: "said", role: "status" });
  place.after(said);
  // A live region is read out when its text changes, not when it arrives with its text.
  setTimeout(() => { said.textContent = text; }, 100);
}

function showViewError(error) {
  const region = $("#view-error");
  if (region) region.textContent = errorText(error);
  // The sign-in ended: the problem screen, unless that would take unsaved one-time codes off the screen.
  if (error && error.code === "unauthorized" && !state.v.unsaved) go("problem", { error });
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

const SMS_DIGITS = 6; // the API's SMS codes, whatever the authenticator's

/** A code input for codes of `digits` digits (a list when it may be either, as at logon: 6 or 8). */
function codeField(id, label, digits, hint) {
  return field(id, label, h("input", {
    type: "text", name: "code", class: "code", inputmode: "numeric", autocomplete: "one-time-code",
    pattern: "[0-9 ]*", maxlength: "11", spellcheck: "false", "data-main": true, "data-digits": [].concat(digits).join(" "),
  }), hint);
}

/** The code typed, spaces removed, if it can be one: ASCII digits, as many as the factor's codes have.
    Anything else is said here, before it is sent: the API would count it as a failed attempt. */
function codeValue(el, id) {
  const input = $("#" + id, el);
  const code = input.value.replace(/ /g, "");
  const digits = input.dataset.digits.split(" ").map(Number);
  if (!code) throw new FieldError(input, t("error.enter_code"));
  if (!/^[0-9]+$/.test(code) || !digits.includes(code.length)) {
    throw new FieldError(input, t("error.code_form", { digits: digits.join(t("word.or")) }));
  }
  return code;
}

// Crockford's base32 as the API writes recovery codes (xxxx-xxxx); case, spaces and hyphens do not count.
const RECOVERY_CODE = /^[0-9abcdefghjkmnpqrstvwxyz]{8}$/i;

function recoveryValue(el, id) {
  const input = $("#" + id, el);
  const code = input.value.replace(/[ -]/g, "");
  if (!code) throw new FieldError(input, t("error.enter_recovery"));
  if (!RECOVERY_CODE.test(code)) throw new FieldError(input, t("error.recovery_form"));
  return code;
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

function requiredValue(el, id, message) {
  const input = $("#" + id, el);
  const value = input.value.trim();
  if (!value) throw new FieldError(input, message);
  return value;
}

function codesList(codes) {
  return h("ol", { class: "codes mono", "aria-label": t("attached.codes"), "data-once": true }, codes.map((code) => h("li", null, code)));
}

/** Copy and Download for recovery codes, shown once: the file says whose they are, for which service
    (`issuer`, when the page knows it) and from when. Either counts as saved: leaving no longer warns. */
function saveButtons(codes, issuer) {
  const text = [
    t("codes.file_title"),
    t("codes.file_account", { account: state.claims.sub || "" }),
    t("codes.file_service", { service: issuer || state.claims.tenant || "", address: BASE.href }),
    t("codes.file_date", { date: dateText(new Date().toISOString()) }),
    "", t("attached.codes_hint"), "", ...codes, "",
  ].join("\n");
  const copy = button(t("button.copy"), async () => {
    await navigator.clipboard.writeText(text);
    state.v.unsaved = null;
    announce(t("status.copied"), copy.closest(".buttons"));
  }, "secondary");
  const download = button(t("button.download"), async () => {
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const link = h("a", { href: url, download: "recovery-codes.txt", hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    state.v.unsaved = null;
    announce(t("status.downloaded"), download.closest(".buttons"));
  }, "secondary");
  return [copy, download];
}
