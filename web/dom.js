// Small DOM helpers: $ and h(), remembered choices, status and error messages, busy buttons, forms and their fields.
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

function requiredValue(el, id, message) {
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
