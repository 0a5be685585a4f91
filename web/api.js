// The HTTP API (docs/API.md): api() with the page's token, ApiError and Stale, errorText(), server times, a token's claims.
"use strict";

// The page's own directory: behind API Gateway it is /<stage>/, locally /.
const BASE = new URL(".", document.baseURI);

class ApiError extends Error {
  constructor(code, body, status) {
    super(code);
    this.code = code;
    this.body = body || {};
    this.status = status || 0;
  }
}

/** An answer for a token that is no longer the page's (the dev bar switched user): dropped unseen. */
class Stale extends Error {}

/** A way out of a screen holding unsaved one-time codes, held until the person says to leave: dropped too. */
class Stayed extends Stale {}

async function api(method, path, body) {
  const token = state.token;
  const headers = {};
  if (state.token) headers.Authorization = "Bearer " + state.token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(new URL(path, BASE), {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit",
    });
  } catch (e) {
    throw new ApiError("network");
  }
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (state.token !== token) throw new Stale();
  if (!response.ok) {
    throw new ApiError((data && data.error) || "unknown", data, response.status);
  }
  return { data, headers: response.headers, status: response.status };
}

/** A text answer (`accept`, e.g. text/csv) with its headers; an error answers JSON as every other. */
async function apiText(method, path, accept) {
  const token = state.token;
  const headers = { Accept: accept };
  if (state.token) headers.Authorization = "Bearer " + state.token;
  let response;
  try {
    response = await fetch(new URL(path, BASE), { method, headers, cache: "no-store", credentials: "omit" });
  } catch (e) {
    throw new ApiError("network");
  }
  const text = await response.text();
  if (state.token !== token) throw new Stale();
  if (!response.ok) {
    let data = null;
    try { data = JSON.parse(text); } catch (e) { data = null; }
    throw new ApiError((data && data.error) || "unknown", data, response.status);
  }
  return { text, headers: response.headers, status: response.status };
}

function errorText(error) {
  if (!(error instanceof ApiError)) error = new ApiError("unknown");
  const body = error.body;
  const retry = (error.code === "locked" || error.code === "rate_limited") && body.retry_after;
  const key = "error." + error.code + (retry ? ".retry" : "");
  let text = t(key, retry ? { time: duration(body.retry_after) } : undefined);
  if (text === key) text = t("error.unknown"); // an error code this page does not know
  // The API says what is wrong with the request: more use than "not valid", if only in English.
  if (error.code === "invalid_request" && typeof body.message === "string") text = t("error.invalid_request.said", { message: body.message });
  if (error.code === "forbidden" && typeof body.calling_code === "string") text = t("error.sms_country", { code: body.calling_code });
  if (error.code === "invalid_code" && typeof body.attempts_left === "number") {
    text = sentences(text, body.attempts_left === 0 ? t("error.attempts_none") : tn("error.attempts_left", body.attempts_left));
  }
  return text;
}

/** A time the server set (an expiry), on this browser's clock: the answer's Date header says how far the
    two clocks differ, so a countdown ends when the server's time runs out, not the browser's. */
function localTime(iso, headers) {
  const server = Date.parse(headers.get("Date"));
  return Date.parse(iso) + (isNaN(server) ? 0 : Date.now() - server);
}

function decodeClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(part.padEnd(Math.ceil(part.length / 4) * 4, "="));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
  } catch (e) {
    return {};
  }
}

function scopes() {
  return String(state.claims.scope || "").split(" ");
}
