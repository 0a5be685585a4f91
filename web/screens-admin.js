// Admin screens: the tenant's policy, a user lookup with reset and unlock, the user's audit trail.
"use strict";

const EVENTS = [
  "attached", "confirmed", "verified", "failed", "locked", "unlocked", "deleted", "device_trusted",
  "device_revoked", "phone_attached", "phone_deleted", "recovery_used", "recovery_renewed", "policy_changed",
  "reset", "app_password_created", "app_password_revoked", "app_password_used",
];

const ADMIN_ROUTES = { "/admin": openAdmin };

const ADMIN_VIEWS = {
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
        p.two_factor === "on" && p.two_factor_since ? h("p", { class: "hint" }, t("admin.on_since", { date: dateText(p.two_factor_since) })) : null),
      h("fieldset", null, h("legend", null, t("admin.methods")),
        h("div", { class: "inline" }, method("authenticator", "admin.method_authenticator"), method("phone", "admin.method_phone"))),
      h("div", { class: "grid" },
        number("policy-device-days", "admin.device_days", p.trusted_device_days, 0, 365, "admin.device_days_hint"),
        number("policy-grace", "admin.grace", p.enroll_grace_days, 0, 90, "admin.grace_hint"),
        number("policy-max-failures", "admin.max_failures", p.lockout.max_failures, 1, 100),
        number("policy-lock-seconds", "admin.lock_seconds", p.lockout.lock_seconds, 1, 86400)),
      checkbox("policy-app-passwords", t("admin.app_passwords"), p.app_passwords),
      h("fieldset", null, h("legend", null, t("admin.sms")),
        field("policy-sms-countries", t("admin.sms_countries"),
          h("input", { type: "text", value: p.sms.countries.join(", "), autocomplete: "off", spellcheck: "false" }),
          t("admin.sms_countries_hint")),
        h("div", { class: "grid" },
          number("policy-sms-per-number", "admin.sms_per_number", p.sms.per_number_per_day, 1, 100),
          number("policy-sms-per-tenant", "admin.sms_per_tenant", p.sms.per_tenant_per_day, 1, 1000000))),
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
      address: "/admin",
      crumbs: ["crumb.admin", "admin.title"],
      body: h("div", null,
        h("h2", null, t("admin.title")),
        overviewCard(),
        usersCard(),
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
      h("dd", null, s.authenticator ? t("settings.authenticator_since", { name: authenticatorName(s.authenticator), date: dateText(s.authenticator.attached_at, "date") }) : yesNo(false)),
      h("dt", null, t("settings.phone")), h("dd", null, s.phone ? s.phone.number : yesNo(false)),
      h("dt", null, t("settings.recovery")), h("dd", null, t("settings.recovery_left", { n: s.recovery_codes_left })),
      h("dt", null, t("settings.devices")), h("dd", null, String(s.trusted_devices)),
      h("dt", null, t("settings.app_passwords")), h("dd", null, String(s.app_passwords)),
      h("dt", null, t("admin.locked")), h("dd", null, locked ? t("admin.locked_until", { time: dateText(s.locked_until) }) : t("admin.not_locked"))),
    lookup.confirmReset
      ? h("div", { class: "warning", role: "group", "aria-label": t("button.reset") },
        h("p", null, t("admin.reset_confirm", { user: lookup.user })),
        h("div", { class: "buttons" },
          button(t("button.confirm_reset"), resetUser, "danger"),
          button(t("button.cancel"), async () => { lookup.confirmReset = false; render({ keepInputs: true, focus: "#user-summary button" }); }, "secondary")))
      : h("div", { class: "buttons" },
        button(t("button.reset"), async () => { lookup.confirmReset = true; render({ keepInputs: true, focus: "#user-summary .warning button" }); }, "danger"),
        locked ? button(t("button.unlock"), unlockUser, "secondary") : null),
    accessPassPanel(lookup));
}

function auditTable(events) {
  if (!events.length) return h("p", { class: "empty" }, t("admin.no_events"));
  return h("table", { class: "stack", id: "audit" },
    h("thead", null, h("tr", null, ["admin.at", "admin.event", "admin.ip", "admin.detail"].map((key) => h("th", { scope: "col" }, t(key))))),
    h("tbody", null, events.map((e) => h("tr", null,
      h("td", { "data-label": t("admin.at") }, dateText(e.at)),
      h("td", { "data-label": t("admin.event") }, EVENTS.includes(e.event) ? t("event." + e.event) : e.event),
      h("td", { "data-label": t("admin.ip") }, e.ip || "-"),
      h("td", { "data-label": t("admin.detail") }, detailText(e.detail))))));
}

async function openAdmin() {
  const [policy, report, list] = await Promise.all([api("GET", "v1/policy"), fetchReport(), fetchList("all", null, [])]);
  go("admin", { policy: policy.data, ...report, list, lookup: null });
  state.v.drawn = saveInputs($("#policy-form"));
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

/** The country calling codes typed in `id` ("+86, +1"), each once; the API says which are not whole codes. */
function callingCodes(el, id) {
  const input = $("#" + id, el);
  const codes = input.value.split(/[\s,;，、；]+/).filter(Boolean);
  if (codes.some((code) => !/^\+[1-9][0-9]{0,2}$/.test(code))) throw new FieldError(input, t("error.calling_codes"));
  return [...new Set(codes)];
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
    sms: {
      countries: callingCodes(el, "policy-sms-countries"),
      per_number_per_day: wholeNumber(el, "policy-sms-per-number"),
      per_tenant_per_day: wholeNumber(el, "policy-sms-per-tenant"),
    },
    version: p.version,
  };
  try {
    state.v.policy = (await api("PUT", "v1/policy", body)).data;
  } catch (error) {
    if (error.code !== "conflict") throw error;
    return keepEditsOver((await api("GET", "v1/policy")).data);
  }
  render({ focus: false });
  state.v.drawn = saveInputs($("#policy-form"));
  announce(t("status.policy_saved", { n: state.v.policy.version }), "#policy-form .buttons");
}

/** Someone else saved the policy since it was drawn (409): their policy, with this admin's own edits on top
    (a field not touched here takes their value), and what they changed said next to the Save button. */
function keepEditsOver(theirs) {
  const mine = saveInputs($("#policy-form"));
  const drawn = state.v.drawn;
  state.v.policy = theirs;
  render({ focus: false });
  const form = $("#policy-form");
  const now = saveInputs(form);
  state.v.drawn = now;
  restoreInputs(form, Object.fromEntries(Object.entries(mine).filter(([id, value]) => value !== drawn[id])));
  const changes = policyChanges(form, drawn, now);
  $(".buttons", form).after(h("p", { class: "warning", id: "policy-conflict", role: "alert" }, sentences(
    t("admin.conflict", { n: theirs.version }),
    changes.length ? t("admin.they_changed", { changes: changes.join(t("list.separator")) }) : null,
    t("admin.edits_kept"))));
  $("button[type=submit]", form).focus();
}

/** "Trusted device days: 30 → 7" for each field whose value differs between two snapshots of the form. */
function policyChanges(form, before, after) {
  const fields = new Map(); // a radio group is one field
  for (const id of Object.keys(after)) {
    const input = $("#" + CSS.escape(id), form);
    if (before[id] !== after[id]) fields.set(input.type === "radio" ? input.name : id, input);
  }
  return [...fields.values()].map((input) => t("admin.change", {
    field: fieldLabel(form, input), from: fieldValue(form, input, before), to: fieldValue(form, input, after),
  }));
}

function fieldLabel(form, input) {
  const set = input.closest("fieldset");
  const legend = set ? $("legend", set).textContent : "";
  if (input.type === "radio") return legend;
  const label = $("label[for=" + CSS.escape(input.id) + "]", form).textContent;
  return legend && input.type === "checkbox" ? legend + " › " + label : label;
}

function fieldValue(form, input, values) {
  if (input.type === "checkbox") return t(values[input.id] ? "admin.on" : "admin.off");
  if (input.type === "radio") {
    const checked = [...form.querySelectorAll("input[type=radio]")].find((r) => r.name === input.name && values[r.id]);
    return checked ? $("label[for=" + CSS.escape(checked.id) + "]", form).textContent : "-";
  }
  const option = input.tagName === "SELECT" && [...input.options].find((o) => o.value === values[input.id]);
  return option ? option.textContent : values[input.id];
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
  const user = requiredValue(el, "lookup-user", t("error.enter_mailbox"));
  state.v.lookup = await fetchUser(user);
  render({ keepInputs: true, focus: "#lookup-user" });
  announce(t("status.found", { user }), "#lookup-form .buttons");
}

async function moreEvents() {
  const lookup = state.v.lookup;
  const page = await api("GET", "v1/admin/events?limit=20&user=" + encodeURIComponent(lookup.user) + "&cursor=" + encodeURIComponent(lookup.cursor));
  lookup.events = lookup.events.concat(page.data);
  lookup.cursor = page.headers.get("X-Next-Cursor");
  render({ keepInputs: true, focus: false });
}

async function resetUser() {
  const user = state.v.lookup.user;
  await api("POST", "v1/admin/users/" + encodeURIComponent(user) + "/reset", {});
  state.v.lookup = await fetchUser(user);
  render({ keepInputs: true, focus: "#user-summary button" });
  announce(t("status.reset", { user }), "#user-summary .buttons");
}

async function unlockUser() {
  const user = state.v.lookup.user;
  await api("POST", "v1/admin/users/" + encodeURIComponent(user) + "/unlock", {});
  state.v.lookup = await fetchUser(user);
  render({ keepInputs: true, focus: "#user-summary button" });
  announce(t("status.unlocked", { user }), "#user-summary .buttons");
}
