// Trusted devices and third-party client security passwords screens: list, create (passwords), remove.
"use strict";

const DEVICE_ROUTES = { "/devices": openDevices, "/app-passwords": openAppPasswords };

const DEVICE_VIEWS = {
  // -- Trusted devices
  devices: () => {
    const list = state.v.devices;
    return {
      title: "devices.title",
      address: "/devices",
      crumbs: [...SETTINGS_CRUMBS, "devices.title"],
      body: h("div", null,
        h("h2", null, t("devices.title")),
        h("p", { class: "lead" }, t("devices.lead")),
        h("div", { class: "card", id: "devices-list" }, list.length
          ? [h("table", { class: "stack" },
            h("caption", { class: "hint" }, tn("devices.caption", list.length)),
            h("thead", null, h("tr", null, ["devices.device", "devices.trusted_at", "devices.expires", "devices.last_used", "devices.action"]
              .map((key) => h("th", { scope: "col" }, t(key))))),
            h("tbody", null, list.map((d) => h("tr", null,
              h("td", { "data-label": t("devices.device"), title: d.label || null }, deviceName(d.label) || "-"),
              h("td", { "data-label": t("devices.trusted_at") }, dateText(d.created_at)),
              h("td", { "data-label": t("devices.expires") }, dateText(d.expires_at)),
              h("td", { "data-label": t("devices.last_used") }, dateText(d.last_used_at) || "-"),
              h("td", { "data-label": t("devices.action") },
                h("button", {
                  type: "button", class: "danger", "aria-label": t("devices.remove_one", { label: deviceName(d.label) || d.id }),
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
      address: "/app-passwords",
      crumbs: [...SETTINGS_CRUMBS, "apppw.title"],
      body: h("div", null,
        h("h2", null, t("apppw.title")),
        h("p", { class: "lead" }, t("apppw.lead")),
        v.created ? h("div", { class: "card", id: "apppw-created" },
          h("h3", null, t("apppw.created", { label: v.created.label })),
          h("p", { class: "once mono", "data-once": true }, v.created.password),
          h("p", null, t("apppw.created_hint", { label: v.created.label })),
          h("div", { class: "buttons" }, button(t("button.copy"), async () => {
            await navigator.clipboard.writeText(v.created.password);
            v.unsaved = null;
            announce(t("status.copied"), "#apppw-created .buttons");
          }, "secondary"), button(t("button.done"), async () => go("apppw", { ...v, created: null, unsaved: null })))) : null,
        v.allowed ? h("div", { class: "card" },
          form("apppw-form", createAppPassword,
            field("apppw-label", t("label.client"), h("input", { type: "text", maxlength: "64", placeholder: "Thunderbird", autocomplete: "off", "data-main": true }),
              t("hint.client")),
            h("div", { class: "buttons" }, h("button", { type: "submit" }, t("button.create_password"))))) :
          h("p", { class: "note" }, t("settings.app_passwords_off")),
        h("div", { class: "card", id: "apppw-list" }, v.list.length
          ? h("table", { class: "stack" },
            h("thead", null, h("tr", null, ["apppw.client", "apppw.created_at", "devices.last_used", "devices.action"]
              .map((key) => h("th", { scope: "col" }, t(key))))),
            h("tbody", null, v.list.map((p) => h("tr", null,
              h("td", { "data-label": t("apppw.client") }, p.label),
              h("td", { "data-label": t("apppw.created_at") }, dateText(p.created_at)),
              h("td", { "data-label": t("devices.last_used") }, dateText(p.last_used_at) || "-"),
              h("td", { "data-label": t("devices.action") }, h("button", {
                type: "button", class: "danger", "aria-label": t("apppw.revoke_one", { label: p.label }),
                onclick: (e) => act(e.currentTarget, () => revokeAppPassword(p.id)),
              }, t("button.revoke")))))))
          : h("p", { class: "empty" }, t("apppw.none"))),
        h("div", { class: "buttons" }, button(t("button.back"), openSettings, "secondary"))),
    };
  },
};

async function openDevices() {
  const devices = (await api("GET", "v1/devices")).data;
  go("devices", { devices });
}

async function revokeDevice(id) {
  await api("DELETE", "v1/devices/" + encodeURIComponent(id));
  state.v.devices = (await api("GET", "v1/devices")).data;
  render({ focus: "h2" });
  announce(t("status.device_removed"), "#devices-list");
}

async function revokeAllDevices() {
  await api("DELETE", "v1/devices");
  state.v.devices = [];
  render();
  announce(t("status.devices_removed"), "#devices-list");
}

async function openAppPasswords() {
  const [factors, list] = await Promise.all([api("GET", "v1/factors"), api("GET", "v1/app-passwords")]);
  go("apppw", { list: list.data, allowed: factors.data.allowed.app_passwords, created: null });
}

async function createAppPassword(el) {
  const label = requiredValue(el, "apppw-label", t("error.enter_client"));
  const created = (await api("POST", "v1/app-passwords", { label })).data;
  state.v.created = created;
  state.v.unsaved = "leave.password";
  state.v.list = (await api("GET", "v1/app-passwords")).data;
  render({ focus: "#apppw-created h3" });
}

async function revokeAppPassword(id) {
  await api("DELETE", "v1/app-passwords/" + encodeURIComponent(id));
  state.v.list = (await api("GET", "v1/app-passwords")).data;
  if (state.v.created && state.v.created.id === id) state.v = { ...state.v, created: null, unsaved: null };
  render();
  announce(t("status.revoked"), "#apppw-list");
}
