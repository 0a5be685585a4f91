// Logon screens: the (simulated) password step, logon verification, Method 1's attach-or-skip, the result handed back.
"use strict";

const LOGON_VIEWS = {
  // -- Logon: the password step is the mail product's; the local run simulates it
  logon_password: () => ({
    title: "logon.password_title",
    address: "/logon",
    crumbs: ["crumb.logon"],
    body: h("div", null,
      h("h2", null, t("logon.password_title")),
      h("div", { class: "card" },
        h("p", { class: "hint" }, t("logon.simulated")),
        form("password-form", async (el) => {
          requiredValue(el, "logon-password", t("error.enter_password"));
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
      parts.push(form("logon-form", verifyCode, codeField("logon-code", t("label.code"), LOGON_DIGITS), trust, verifyButton));
    } else if (mode === "phone") {
      parts.push(h("p", null, t("logon.lead_phone")));
      if (v.sent) {
        parts.push(h("p", { class: "note" }, t("phone.sent", { number: v.sent })));
        parts.push(form("logon-form", verifyCode, codeField("logon-code", t("label.sms_code"), SMS_DIGITS), trust, verifyButton));
      }
      parts.push(h("div", { class: "buttons" }, button(v.sent ? t("button.send_again") : t("button.send_code"), sendLogonSms, v.sent ? "secondary" : null)));
    } else if (mode === "access_pass") {
      parts.push(h("p", null, t("logon.lead_pass")));
      parts.push(form("logon-form", verifyCode, field("logon-pass", t("label.access_pass"), h("input", {
        type: "text", name: "access_pass", class: "code pass", autocomplete: "off", autocapitalize: "none",
        spellcheck: "false", maxlength: "30", "data-main": true,
      }), t("hint.access_pass")), verifyButton));
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
    if (mode !== "access_pass" && v.methods.includes("access_pass")) alternatives.push(other("access_pass", "logon.use_pass"));
    return {
      title: "logon.title",
      address: "/logon",
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
      address: "/logon",
      crumbs: ["crumb.logon"],
      body: h("div", null,
        h("h2", null, t("logon.title")),
        h("div", { class: "card" },
          h("h3", null, t("enroll.title")),
          h("p", null, t(v.methods.includes("authenticator") ? "enroll.lead" : "enroll.lead_phone")),
          h("div", { class: "buttons" },
            v.methods.includes("authenticator") ? button(t("button.attach_authenticator"), () => openAttach(true)) : null,
            v.methods.includes("phone") ? button(t("button.attach_phone"), async () => go("phone", { mode: "attach", method1: true }), "secondary") : null),
          v.skippable ? h("div", { class: "later" }, h("p", { class: "hint" }, t("enroll.grace", { date: dateText(v.grace_until, "date") })),
            h("div", { class: "buttons" }, button(t("button.skip"), skipEnroll, "secondary"))) : null)),
    };
  },

  // After a logon with a temporary access pass (the phone was lost): attach a new authenticator now, or later
  logon_pass_attach: () => ({
    title: "pass.attach_title",
    address: "/logon/pass",
    crumbs: ["crumb.logon"],
    body: h("div", null,
      h("h2", null, t("pass.attach_title")),
      h("div", { class: "card" },
        h("p", null, t("pass.attach_lead")),
        h("p", { class: "hint" }, t("pass.attach_window")),
        h("div", { class: "buttons" },
          button(t("pass.attach_now"), () => openAttach(true)),
          button(t("pass.later"), async () => logonDone(state.v.mfaToken, { how: "done.pass" }), "secondary")))),
  }),

  // The fragment named a receiver for the page's result (the logon result) that this deployment does not trust.
  handoff_refused: () => ({
    title: "handoff.refused_title",
    body: h("div", { class: "card" },
      h("h2", null, t("handoff.refused_title")),
      h("p", { class: "error", role: "alert" }, t("handoff.refused", { origin: state.v.origin })),
      h("p", null, t("problem.reopen"))),
  }),

  logon_done: () => {
    const v = state.v;
    const amr = (v.claims.amr || [])[0];
    const how = v.how || { device: "done.device", none: "done.none", otp: "done.verified", sms: "done.verified", recovery: "done.verified", pass: "done.pass" }[amr] || "done.verified";
    return {
      title: "done.title",
      address: "/logon/done",
      crumbs: ["crumb.logon"],
      body: h("div", null,
        h("h2", { class: "success" }, t("done.title")),
        h("div", { class: "card" },
          h("p", null, t(how)),
          v.deviceExpires ? h("p", null, t("done.trusted", { date: dateText(v.deviceExpires, "date") })) : null,
          h("p", { class: "hint" }, t("done.handoff")),
          state.dev ? h("details", null,
            h("summary", null, t("done.result")),
            h("dl", { class: "facts" },
              h("dt", null, "amr"), h("dd", { id: "done-amr" }, (v.claims.amr || []).join(" ")),
              h("dt", null, "sub"), h("dd", null, v.claims.sub || ""),
              h("dt", null, "exp"), h("dd", null, v.claims.exp ? dateText(new Date(v.claims.exp * 1000).toISOString()) : "")),
            h("p", { class: "token mono" }, v.mfaToken)) : null,
          state.dev ? h("div", { class: "buttons" }, button(t("button.log_on_again"), async () => go("logon_password"))) : null)),
    };
  },
};

// The logon decision does not say how many digits the authenticator's codes have: either the policy allows.
const LOGON_DIGITS = [6, 8];

// A reload or Back on a logon screen starts the logon again: its result was handed over once.
const LOGON_ROUTES = { "/logon": logonHome, "/logon/done": logonHome, "/logon/pass": logonHome };

// The logon result of a temporary access pass, while the user may attach a new authenticator (Method 1's screens).
let afterPass = null;

function logonHome() {
  return state.dev ? go("logon_password") : startLogon();
}

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
    const first = decision.methods[0];
    return go("logon", { ...decision, mode: first === "phone" || first === "access_pass" ? first : "authenticator" });
  }
  go("logon_enroll", decision);
}

async function verifyCode(el) {
  const mode = state.v.mode;
  const code = mode === "recovery_code" ? recoveryValue(el, "logon-recovery")
    : mode === "access_pass" ? requiredValue(el, "logon-pass", t("error.enter_pass")) : codeValue(el, "logon-code");
  const trust = $("#logon-trust", el);
  const result = (await api("POST", "v1/logon/verify", { method: mode, code, trust_device: !!(trust && trust.checked) })).data;
  if (mode === "access_pass") {
    afterPass = { mfaToken: result.mfa_token };
    return go("logon_pass_attach", afterPass);
  }
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

/** Whether the logon result may be posted to `origin`: one of the deployment's MFA_CORS_ORIGINS, which the server
    writes into the page (functions/page.py). The fragment that names it comes from whoever opened the page. */
function handoffAllowed(origin) {
  const listed = ($('meta[name="mfa-handoff-origins"]').content || "").split(" ");
  let exact = false;
  try { exact = new URL(origin).origin === origin; } catch (e) { /* not an origin: "*", "null", a path */ }
  return exact && listed.includes(origin);
}

function logonDone(mfaToken, extra) {
  afterPass = null;
  const claims = decodeClaims(mfaToken);
  go("logon_done", { mfaToken, claims, ...extra });
  // The mail product that opened the page (frame or window) gets the result; it checks the token itself.
  const target = window.parent !== window ? window.parent : window.opener;
  if (state.handoff && target) target.postMessage({ type: "mfa:logon-complete", mfa_token: mfaToken }, state.handoff);
}
