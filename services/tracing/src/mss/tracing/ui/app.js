// The audit UI: a client of /api/v1 (see /api/v1/openapi.json). The session token lives in
// sessionStorage and travels as a bearer token; every text is set with textContent.
"use strict";

const $ = (selector) => document.querySelector(selector);
let me = null;
let cursor = "";
let lastQuery = null;
let logCursor = "";

function token() { return sessionStorage.getItem("mss-token"); }

async function api(method, path, body) {
  const headers = { "Authorization": `Bearer ${token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401) { signedOut(); throw new Error("signed out"); }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new Error(problem.message || `${response.status}`);
  }
  return response;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text === undefined || text === null ? "" : String(text);
  if (className) td.className = className;
  return td;
}

function show(id) {
  for (const section of ["sign-in", "search", "timeline", "log"]) $(`#${section}`).hidden = section !== id;
}

function signedOut() {
  sessionStorage.removeItem("mss-token");
  me = null;
  $("#nav").hidden = true;
  show("sign-in");
}

async function signedIn() {
  me = await (await api("GET", "/api/v1/me")).json();
  $("#who").textContent = `${me.login} (${me.role})`;
  $("#nav").hidden = false;
  $("#show-log").hidden = !me.sees_access_log;
  $("#export-form").hidden = !me.may_export;
  for (const field of document.querySelectorAll(".content")) field.hidden = !me.sees_content;
  const select = $("#search-form select[name=tenant]");
  select.length = 1;
  for (const tenant of me.establishments) select.add(new Option(tenant, tenant));
  show("search");
}

$("#sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  $("#sign-in-error").textContent = "";
  const response = await fetch("/api/v1/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ login: form.get("login"), password: form.get("password") }),
  });
  if (!response.ok) { $("#sign-in-error").textContent = "Wrong login or password."; return; }
  sessionStorage.setItem("mss-token", (await response.json()).token);
  event.target.reset();
  await signedIn();
});

$("#sign-out").addEventListener("click", async () => {
  await fetch("/api/v1/session", { method: "DELETE", headers: { "Authorization": `Bearer ${token()}` } });
  signedOut();
});

async function runSearch(append) {
  const params = new URLSearchParams();
  for (const [name, value] of lastQuery) if (value) params.set(name, value);
  if (append && cursor) params.set("before", cursor);
  $("#search-error").textContent = "";
  let page;
  try {
    page = await (await api("GET", `/api/v1/messages?${params}`)).json();
  } catch (error) { $("#search-error").textContent = error.message; return; }
  const body = $("#results tbody");
  if (!append) body.replaceChildren();
  for (const message of page.messages) {
    const row = body.insertRow();
    const pick = document.createElement("input");
    pick.type = "checkbox"; pick.value = message.message_id; pick.className = "pick";
    pick.setAttribute("aria-label", `select ${message.message_id}`);
    row.insertCell().append(pick);
    cell(row, message.first_at.replace("T", " ").slice(0, 19));
    const link = document.createElement("a");
    link.textContent = message.message_id; link.className = "open";
    link.addEventListener("click", () => openTimeline(message.message_id));
    row.insertCell().append(link);
    cell(row, message.mail_from);
    cell(row, message.recipients.map((r) => `${r.recipient}: ${r.status}`).join("\n"));
    cell(row, message.establishments.join(", "));
  }
  cursor = page.next;
  $("#more").hidden = !cursor;
}

$("#search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  lastQuery = [...new FormData(event.target)];
  runSearch(false);
});
$("#more").addEventListener("click", () => runSearch(true));

async function openTimeline(id) {
  const timeline = await (await api("GET", `/api/v1/messages/${encodeURIComponent(id)}`)).json();
  $("#timeline-id").textContent = timeline.message_id;
  const sender = timeline.events.map((e) => e.mail_from).find(Boolean) || "(null sender)";
  const patient = timeline.events.map((e) => e.patient_hash).find(Boolean);
  $("#timeline-meta").textContent = [`From ${sender}`, `establishments ${timeline.establishments.join(", ")}`,
    timeline.trace_ids.length ? `trace ${timeline.trace_ids.join(", ")}` : "",
    patient ? `patient (keyed hash) ${patient.slice(0, 16)}…` : ""].filter(Boolean).join(" · ");
  const recipients = $("#recipients tbody");
  recipients.replaceChildren();
  for (const [address, state] of Object.entries(timeline.recipients)) {
    const row = recipients.insertRow();
    cell(row, address);
    cell(row, state.status, `status-${state.status}`);
    cell(row, state.attempts);
    cell(row, state.reply);
    cell(row, state.disposition);
  }
  const events = $("#events tbody");
  events.replaceChildren();
  for (const event of timeline.events) {
    const row = events.insertRow();
    cell(row, event.at.replace("T", " ").slice(0, 23));
    cell(row, event.service);
    cell(row, event.event + (event.notification ? ` (notification ${event.notification})` : ""));
    cell(row, event.recipient);
    cell(row, event.status, `status-${event.status}`);
    cell(row, [event.reply, event.reason, event.next_hop && `→ ${event.next_hop}`].filter(Boolean).join("\n"));
    cell(row, [event.rule, event.policy_version && `policy ${event.policy_version}`,
      event.trust_list_version && `list ${event.trust_list_version}`,
      event.directory_version && `directory ${event.directory_version}`].filter(Boolean).join("\n"));
    cell(row, event.tls ? `${event.tls.tls_version || ""} ${event.tls.cipher || ""}\n${event.tls.subject_dn || ""}` : "");
  }
  show("timeline");
}

$("#back").addEventListener("click", () => show("search"));
$("#show-search").addEventListener("click", () => show("search"));

$("#export-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const ids = [...document.querySelectorAll(".pick:checked")].map((box) => box.value);
  const status = $("#export-status");
  if (!ids.length) { status.textContent = "Select messages first."; return; }
  try {
    const response = await api("POST", "/api/v1/exports",
      { message_ids: ids, purpose: new FormData(event.target).get("purpose") });
    const blob = await response.blob();
    const name = (response.headers.get("Content-Disposition") || "").split('filename="')[1]?.replace('"', "") || "audit-export.zip";
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob); link.download = name;
    document.body.append(link); link.click(); link.remove();
    status.textContent = `Exported ${ids.length} message(s): ${name}`;
  } catch (error) { status.textContent = error.message; }
});

async function loadLog(append) {
  const params = new URLSearchParams();
  if (append && logCursor) params.set("before", logCursor);
  const page = await (await api("GET", `/api/v1/access-log?${params}`)).json();
  const body = $("#log-entries tbody");
  if (!append) body.replaceChildren();
  for (const entry of page.entries) {
    const row = body.insertRow();
    for (const value of [entry.at.replace("T", " ").slice(0, 19), entry.login, entry.role, entry.action,
      entry.target, entry.outcome, entry.peer]) cell(row, value);
  }
  logCursor = page.next;
  $("#log-more").hidden = !logCursor;
}

$("#show-log").addEventListener("click", async () => { await loadLog(false); show("log"); });
$("#log-more").addEventListener("click", () => loadLog(true));

if (token()) signedIn().catch(signedOut); else signedOut();
