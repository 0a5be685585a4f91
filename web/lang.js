// The page's language: t() and tn() (words from web/i18n-*.js, plurals), dates and durations, the picker and the header it relabels.
"use strict";

const STRINGS = window.MFA_STRINGS;
const LANGS = ["en", "zh-CN"];
const KEY_LANG = "mfa.lang";

function t(key, vars) {
  const table = STRINGS[state.lang] || STRINGS.en;
  let text = key in table ? table[key] : key in STRINGS.en ? STRINGS.en[key] : key;
  if (vars) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  return text;
}

/** t() for a count: the form the language's plural rules pick (Intl.PluralRules: key.one, key.other...). */
function tn(key, n, vars) {
  return t(key + "." + new Intl.PluralRules(state.lang).select(n), { n, ...vars });
}

/** Whether the page has words for `key` (an API value it can name) or must show the value as it came. */
function known(key) {
  return key in (STRINGS[state.lang] || STRINGS.en);
}

/** Sentences one after another: a space between them in English, none in Chinese. */
function sentences(...parts) {
  return parts.filter(Boolean).join(t("sentence.gap"));
}

function dateText(iso, style) {
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
