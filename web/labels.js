// The API's raw values as a person reads them: device names from User-Agent strings, the default authenticator
// name, audit details. Parsed here, in the page, so the API keeps handing back what it was given.
"use strict";

// First match wins: Edge, Opera and Samsung Internet also say "Chrome", Chrome also says "Safari", iPads say "Mac OS X".
const BROWSERS = [
  [/Edg(e|A|iOS)?\//, "Edge"], [/OPR\/|Opera/, "Opera"], [/SamsungBrowser\//, "Samsung Internet"],
  [/Firefox\/|FxiOS\//, "Firefox"], [/Chrome\/|CriOS\/|Chromium\//, "Chrome"], [/Safari\//, "Safari"],
];
const SYSTEMS = [
  [/iPhone|iPad|iPod/, "iOS"], [/Android/, "Android"], [/Windows/, "Windows"], [/CrOS/, "ChromeOS"],
  [/Mac OS X|Macintosh/, "macOS"], [/Linux/, "Linux"],
];
// What the API names an authenticator attached without a name (docs/API.md).
const API_DEFAULT_AUTHENTICATOR = "Authenticator app";

/** "Chrome on Linux" for a trusted device whose label is the browser's User-Agent (the API's default);
    a label a client chose is shown as it is. */
function deviceName(label) {
  if (!label || !/^Mozilla\/|AppleWebKit|Gecko\//.test(label)) return label;
  const browser = BROWSERS.find(([pattern]) => pattern.test(label));
  const system = SYSTEMS.find(([pattern]) => pattern.test(label));
  if (!browser && !system) return label;
  return t("device.name", { browser: browser ? browser[1] : t("device.browser"), system: system ? system[1] : t("device.system") });
}

function authenticatorName(auth) {
  return !auth.name || auth.name === API_DEFAULT_AUTHENTICATOR ? t("settings.authenticator_default") : auth.name;
}

/** An audit event's details in words ("Attempts left: 4"); a key or value the page has no words for
    (an event newer than the page) is shown as the API sent it. */
function detailText(detail) {
  const parts = Object.entries(detail || {}).map(([key, value]) => {
    const label = known("detail." + key) ? t("detail." + key) : key;
    const named = "detail." + key + "." + value;
    const shown = known(named) ? t(named) : typeof value === "boolean" ? t(value ? "detail.yes" : "detail.no") : String(value);
    return t("detail.pair", { label, value: shown });
  });
  return parts.join(t("list.separator")) || "-";
}
