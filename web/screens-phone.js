// Secure phone (SMS) screens: attach one (from Settings, or at logon as Method 1), delete it with a code.
"use strict";

const PHONE_ROUTES = {
  "/phone": async () => go("phone", { mode: "attach" }),
  "/phone/delete": () => openPhoneDelete(),
  "/logon/phone": async () => go("phone", { mode: "attach", method1: true }),
};

const PHONE_VIEWS = {
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
        codeField("phone-code", attach ? t("label.sms_code") : t("label.code_or_sms"), attach ? SMS_DIGITS : v.digits),
        h("div", { class: "buttons" },
          h("button", { type: "submit", class: attach ? null : "danger" }, attach ? t("button.attach") : t("button.delete_phone")))));
    }
    parts.push(h("div", { class: "buttons" }, button(t("button.cancel"), v.method1 ? startLogon : openSettings, "secondary")));
    return {
      title: attach ? "phone.attach_title" : "phone.delete_title",
      address: v.method1 ? "/logon/phone" : attach ? "/phone" : "/phone/delete",
      crumbs: v.method1 ? ["crumb.logon", "phone.attach_title"] : [...SETTINGS_CRUMBS, attach ? "phone.attach_title" : "phone.delete_title"],
      body: h("div", null, h("h2", null, t(attach ? "phone.attach_title" : "phone.delete_title")), h("div", { class: "card" }, parts)),
    };
  },
};

/** Delete the secure phone, with an SMS code or, when one is attached, a code of the authenticator's digits;
    Account Security when there is no phone. */
async function openPhoneDelete(factors) {
  const f = factors || (await api("GET", "v1/factors")).data;
  if (!f.phone) return go("settings", { factors: f });
  const digits = [...new Set([SMS_DIGITS, ...(f.authenticator ? [f.authenticator.digits] : [])])];
  go("phone", { mode: "delete", number: f.phone.number, digits });
}

async function sendPhoneCode(el) {
  const input = $("#phone-number", el);
  const number = input.value.replace(/[\s()-]/g, "");
  if (!number) throw new FieldError(input, t("error.enter_phone"));
  try {
    state.v.sent = (await api("POST", "v1/phone", { number })).data.number;
  } catch (error) {
    // The number is all this request has to be wrong about: the API says how, the page says it in its language.
    if (error.code === "invalid_request") throw new FieldError(input, t("error.phone_format"));
    throw error;
  }
  render({ keepInputs: true, focus: "#phone-code" });
  refreshOutbox();
}

async function confirmPhone(el) {
  const result = (await api("POST", "v1/phone/confirm", { code: codeValue(el, "phone-code") })).data;
  if (result.mfa_token) return logonDone(result.mfa_token, {});
  await openSettings();
  announce(t("status.phone_attached", { number: result.number }), "#row-phone .state");
}

async function sendDeleteCode() {
  const sent = (await api("POST", "v1/phone/code", {})).data;
  state.v.sent = sent.number;
  render({ keepInputs: true, focus: "#phone-code" });
  refreshOutbox();
}

async function deletePhone(el) {
  await api("DELETE", "v1/phone", { code: codeValue(el, "phone-code") });
  await openSettings();
  announce(t("status.phone_deleted"), "#row-phone .state");
}
