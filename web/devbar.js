// The local run's dev bar (`make run`): demo users' tokens from POST /v1/dev/token, the SMS and notification outbox.
"use strict";

const KEY_DEV = "mfa.dev";
const DEMO_USERS = ["alice@example.com", "bob@example.com", "carol@example.com", "admin@example.com"];
const SCOPES = { settings: "mfa:settings", logon: "mfa:logon", admin: "mfa:admin" };

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
    await leaving(() => switchUser(choice));
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

async function switchUser(choice) {
  go("loading", {}, { focus: false }); // the previous user's screen goes at once
  try {
    await devToken(choice);
    await load(home);
  } catch (error) {
    if (!(error instanceof Stale)) go("problem", { error });
  }
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
