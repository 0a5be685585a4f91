// Account Security screens: the factors, Attach Authenticator (Methods 1 and 2), Delete Authenticator, recovery codes.
"use strict";

const APPS = ["app.alibaba", "app.microsoft", "app.google", "app.authy"];
const SETTINGS_CRUMBS = ["crumb.settings", "crumb.account", "crumb.security"];

// Cross-file names behind arrows: those scripts load after this one.
const ACCOUNT_ROUTES = {
  "/security": openSettings,
  "/attach": () => openAttach(false),
  "/attach/done": openSettings,
  "/logon/attach": () => openAttach(true),
  "/logon/attach/done": () => logonHome(),
  "/delete": () => withAuthenticator("delete"),
  "/delete/done": openSettings,
  "/recovery-codes": () => withAuthenticator("recovery"),
};

const ACCOUNT_VIEWS = {
  // -- Settings > Account and Security > Account Security
  settings: () => {
    const f = state.v.factors;
    const allowed = f.allowed || { methods: [], trusted_device_days: 0, app_passwords: false };
    const auth = f.authenticator;
    const badge = (on, key) => h("span", { class: "badge " + (on ? "on" : "off") }, t(key));
    const row = (id, title, status, detail, actions) => h("li", { id },
      h("div", { class: "what" }, h("h3", null, title, " ", status), h("div", { class: "state" }, detail)),
      h("div", { class: "actions" }, actions));
    const rows = [
      row("row-authenticator", t("settings.authenticator"), badge(auth, auth ? "state.attached" : "state.not_attached"),
        auth ? t("settings.authenticator_since", { name: authenticatorName(auth), date: dateText(auth.attached_at, "date") })
          : allowed.methods.includes("authenticator") ? t("settings.authenticator_none") : t("settings.not_offered"),
        auth ? button(t("button.delete_authenticator"), () => withAuthenticator("delete", f), "danger")
          : allowed.methods.includes("authenticator") ? button(t("button.attach_authenticator"), () => openAttach(false)) : null),
    ];
    if (auth) {
      rows.push(row("row-recovery", t("settings.recovery"), null, t("settings.recovery_left", { n: f.recovery_codes_left }),
        button(t("button.new_codes"), () => withAuthenticator("recovery", f), "secondary")));
    }
    rows.push(row("row-phone", t("settings.phone"), badge(f.phone, f.phone ? "state.attached" : "state.not_attached"),
      f.phone ? h("span", { class: "mono" }, f.phone.number)
        : allowed.methods.includes("phone") ? t("settings.phone_none") : t("settings.not_offered"),
      f.phone ? button(t("button.delete_phone"), () => openPhoneDelete(f), "danger")
        : allowed.methods.includes("phone") ? button(t("button.attach_phone"), () => go("phone", { mode: "attach" }), "secondary") : null));
    rows.push(row("row-devices", t("settings.devices"), null,
      allowed.trusted_device_days === 0 ? t("settings.devices_off") : tn("settings.devices_count", f.trusted_devices),
      button(t("button.manage"), openDevices, "secondary")));
    rows.push(row("row-app-passwords", t("settings.app_passwords"), null,
      allowed.app_passwords ? t("settings.app_passwords_count", { n: f.app_passwords }) : t("settings.app_passwords_off"),
      button(t("button.manage"), openAppPasswords, "secondary")));
    return {
      title: "settings.title",
      address: "/security",
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
    const ended = state.v.ended; // "expired", or "replaced" by a newer enrollment (another tab, another device)
    const confirmForm = ended
      ? h("div", null,
        h("p", { class: "error", role: "alert" }, t("attach." + ended)),
        h("div", { class: "buttons" }, ended === "replaced"
          ? button(t("button.show_new_qr"), async () => showEnrollment(state.v.replacement, state.v.method1))
          : button(t("button.new_qr"), newQrCode)))
      : form("attach-form", confirmAttach,
        codeField("attach-code", t("label.code"), digits, t("attach.code_hint", { digits, issuer: e.issuer || "" })),
        h("div", { class: "buttons" },
          h("button", { type: "submit" }, t("button.attach_now")),
          button(t("button.cancel"), cancelAttach, "secondary")));
    return {
      title: "attach.title",
      address: state.v.method1 ? "/logon/attach" : "/attach",
      tick: ended ? null : countDown,
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
            h("div", { class: ended ? "qr ended" : "qr" },
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
                h("p", { class: "hint", id: "qr-expires" }, expiryText())))),
          h("li", null,
            h("h3", null, t("attach.step_code")),
            confirmForm)))),
    };
  },

  attached: () => ({
    title: "attached.title",
    address: state.v.method1 ? "/logon/attach/done" : "/attach/done",
    crumbs: state.v.method1 ? ["crumb.logon", "attached.title"] : [...SETTINGS_CRUMBS, "attached.title"],
    body: h("div", null,
      h("h2", { class: "success" }, t("attached.title")),
      h("p", null, t("attached.lead")),
      h("div", { class: "card" },
        h("h3", null, t("attached.codes")),
        h("p", null, t("attached.codes_hint")),
        codesList(state.v.codes),
        h("div", { class: "buttons" },
          saveButtons(state.v.codes, state.v.issuer),
          state.v.mfaToken
            ? button(t("button.continue"), async () => { const token = state.v.mfaToken; leaving(() => logonDone(token, {})); })
            : button(t("button.done"), openSettings)))),
  }),

  // -- Delete Authenticator: a current code (or a recovery code) and Next
  delete: () => ({
    title: "delete.title",
    address: "/delete",
    crumbs: [...SETTINGS_CRUMBS, "delete.title"],
    body: h("div", null,
      h("h2", null, t("delete.title")),
      h("div", { class: "card" },
        h("p", null, state.v.recovery ? t("delete.lead_recovery") : t("delete.lead")),
        form("delete-form", confirmDelete,
          state.v.recovery ? recoveryField("delete-recovery") : codeField("delete-code", t("label.code"), state.v.digits),
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
    address: "/delete/done",
    crumbs: [...SETTINGS_CRUMBS, "delete.title"],
    body: h("div", { class: "card" },
      h("h2", { class: "success" }, t("deleted.title")),
      h("p", null, t("deleted.lead")),
      h("div", { class: "buttons" }, button(t("button.back"), openSettings))),
  }),

  // -- New recovery codes for a current code
  recovery: () => ({
    title: "recovery.title",
    address: "/recovery-codes",
    crumbs: [...SETTINGS_CRUMBS, "recovery.title"],
    body: h("div", null,
      h("h2", null, t("recovery.title")),
      h("div", { class: "card" }, state.v.codes
        ? [h("p", null, t("attached.codes_hint")), codesList(state.v.codes),
          h("div", { class: "buttons" }, saveButtons(state.v.codes), button(t("button.done"), openSettings))]
        : [h("p", null, t("recovery.lead")),
          form("recovery-form", renewCodes, codeField("recovery-code", t("label.code"), state.v.digits),
            h("div", { class: "buttons" },
              h("button", { type: "submit" }, t("button.new_codes")),
              button(t("button.cancel"), openSettings, "secondary")))])),
  }),
};

async function openSettings() {
  const factors = (await api("GET", "v1/factors")).data;
  go("settings", { factors });
}

/** A screen about the attached authenticator (delete it, new recovery codes), for codes of its digits;
    Account Security when none is attached. */
async function withAuthenticator(view, factors) {
  const f = factors || (await api("GET", "v1/factors")).data;
  return f.authenticator ? go(view, { digits: f.authenticator.digits }) : go("settings", { factors: f });
}

/** Attach Authenticator: the enrollment already waiting for its code if there is one (a reload, a second tab:
    the QR code scanned still works), else a new one. */
async function openAttach(method1) {
  try {
    const pending = await api("GET", "v1/authenticator/enrollment").catch((error) => {
      if (error.code === "not_found") return api("POST", "v1/authenticator/enroll", {});
      throw error;
    });
    showEnrollment(pending, method1);
  } catch (error) {
    if (error.code !== "already_attached" || method1) throw error;
    await openSettings();
    showViewError(error);
  }
}

async function newQrCode() {
  showEnrollment(await api("POST", "v1/authenticator/enroll", {}), state.v.method1);
}

function showEnrollment(answer, method1) {
  go("attach", { enrollment: answer.data, method1, until: localTime(answer.data.expires_at, answer.headers) });
}

function secondsLeft() {
  return Math.max(0, Math.ceil((state.v.until - Date.now()) / 1000));
}

function expiryText() {
  const time = dateText(state.v.enrollment.expires_at, "time");
  const left = secondsLeft();
  if (state.v.ended === "expired" || !left) return t("attach.expired_at", { time });
  return t("attach.expires_in", { left: Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0"), time });
}

/** Each second on Attach: the time the QR code has left, and at its end a new one offered, before a code
    typed for it is sent. */
function countDown() {
  if (secondsLeft()) {
    $("#qr-expires").textContent = expiryText();
    return;
  }
  state.v.ended = "expired";
  render({ focus: "#main .steps button" });
}

async function cancelAttach() {
  if (state.v.method1 && afterPass) go("logon_pass_attach", afterPass);
  else if (state.v.method1) await startLogon();
  else await openSettings();
}

async function confirmAttach(el) {
  const code = codeValue(el, "attach-code");
  try {
    const result = (await api("POST", "v1/authenticator/confirm", { enrollment_id: state.v.enrollment.enrollment_id, code })).data;
    go("attached", {
      codes: result.recovery_codes, mfaToken: result.mfa_token || (state.v.method1 && afterPass ? afterPass.mfaToken : null), method1: state.v.method1,
      issuer: state.v.enrollment.issuer, unsaved: "leave.codes",
    });
  } catch (error) {
    if (error.code === "enrollment_expired") state.v.ended = "expired";
    else if (error.code === "not_found") state.v.ended = await replacedOrGone();
    else throw error;
    render({ focus: "#main .steps button" });
  }
}

/** Why this page's enrollment is no longer the pending one: a newer one replaced it (started in another tab
    or on another device; kept, to show), or none is left (it ran out, or an admin reset the user). */
async function replacedOrGone() {
  try {
    state.v.replacement = await api("GET", "v1/authenticator/enrollment");
    return "replaced";
  } catch (error) {
    if (error.code === "not_found") return "expired";
    throw error;
  }
}

async function confirmDelete(el) {
  const body = state.v.recovery
    ? { recovery_code: recoveryValue(el, "delete-recovery") }
    : { code: codeValue(el, "delete-code") };
  await api("DELETE", "v1/authenticator", body);
  go("deleted");
}

async function renewCodes(el) {
  const result = (await api("POST", "v1/recovery-codes", { code: codeValue(el, "recovery-code") })).data;
  state.v.codes = result.recovery_codes;
  state.v.unsaved = "leave.codes";
  render();
  announce(t("status.new_codes"), "#main .codes");
}
