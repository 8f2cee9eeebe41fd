// The requester's page (/requester): an outside party pastes the requester token a household gave it,
// asks for footage through the form and follows its requests. The token is kept in sessionStorage (this
// tab only) and sent as Authorization: Bearer; the hub lets it reach only its own requests and, once
// approved, their share links.

import { cameraCheckbox, localInput, request, text, when } from "./api.js";

const TOKEN_KEY = "camhub.requester_token";
const WEEK_S = 7 * 86400;
const $ = (id) => document.getElementById(id);

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

// Every call carries the pasted requester token.
function call(method, path, body) {
  return request(method, path, body, { token: token() });
}

function seconds(input) {
  const ms = new Date(input.value).getTime();
  if (Number.isNaN(ms)) throw new Error(`${input.labels[0]?.textContent.trim() || input.name}: choose a date and time`);
  return Math.round(ms / 1000);
}

function scopeText(scope) {
  const clips = scope.clip_ids ? `, ${scope.clip_ids.length} chosen clip(s)` : "";
  return `${scope.cameras.join(", ")}, ${when(scope.start_s)} to ${when(scope.end_s)}${clips}`;
}

function requestItem(req) {
  const li = document.createElement("li");
  li.dataset.id = req.id;
  li.append(
    text("p", req.state, "requester-state"),
    text("p", `Asked for ${req.cameras.join(", ")}, ${when(req.start_s)} to ${when(req.end_s)}; sent ${when(req.created_s)}`),
    text("p", req.purpose, "requester-purpose"),
  );
  if (req.legal_basis) li.append(text("p", `Legal basis: ${req.legal_basis}`));
  if (req.granted) li.append(text("p", `Given: ${scopeText(req.granted)}`));
  if (req.message) li.append(text("p", `The household wrote: ${req.message}`));
  const link = req.share_link;
  if (link) {
    const left = link.max_downloads - link.downloads;
    if (link.usable) {
      const share = text("a", "Open the share link", "button");
      share.href = `/share#${link.url.split("/").pop()}`;
      li.append(text("p", `${left} of ${link.max_downloads} downloads left; until ${when(link.expires_s)}`), share);
    } else {
      li.append(text("p", link.revoked_s !== null ? "The household revoked the share link." : "The share link can no longer be used."));
    }
  }
  return li;
}

async function loadRequests() {
  const list = $("my-request-list");
  try {
    const mine = await call("GET", "/api/requests");
    list.replaceChildren(...mine.map(requestItem));
    if (!mine.length) list.append(text("li", "You have not asked for anything yet."));
  } catch (err) {
    list.replaceChildren(text("li", `Could not load your requests: ${err.message}`));
  }
}

async function loadCameras() {
  const set = $("ask-cameras");
  const names = await call("GET", "/api/requesters/cameras");
  set.replaceChildren(text("legend", "Cameras"));
  for (const name of names) set.append(cameraCheckbox(name));
}

function showSignedOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  $("token-form").hidden = false;
  $("token-form").querySelector(".message").textContent = message || "";
  for (const id of ["requester-account", "ask", "my-requests"]) $(id).hidden = true;
}

async function start() {
  if (!token()) return showSignedOut();
  let me;
  try {
    me = await call("GET", "/api/auth/me");
  } catch (err) {
    return showSignedOut(err.message);
  }
  if (me.role !== "requester") return showSignedOut("That is not a requester token; ask the household for one.");
  $("token-form").hidden = true;
  $("requester-who").textContent = `Using the token of ${me.user}.`;
  for (const id of ["requester-account", "ask", "my-requests"]) $(id).hidden = false;
  const form = $("ask");
  const now = Math.floor(Date.now() / 1000);
  if (!form.elements.end.value) {
    form.elements.start.value = localInput(now - 3600);
    form.elements.end.value = localInput(now - 60);
    form.elements.wanted_by.value = localInput(now + WEEK_S);
  }
  await Promise.all([loadCameras().catch((err) => showSignedOut(err.message)), loadRequests()]);
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = event.target.elements.token.value.trim();
  event.target.reset();
  sessionStorage.setItem(TOKEN_KEY, value);
  start();
});

$("forget-token").addEventListener("click", () => showSignedOut("The token is forgotten."));
$("reload-requests").addEventListener("click", loadRequests);

$("ask").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const message = form.querySelector(".message");
  message.textContent = "";
  message.classList.remove("ok");
  const field = (name) => form.elements[name].value.trim();
  let body;
  try {
    const cameras = [...form.querySelectorAll("input[name=cameras]:checked")].map((box) => box.value);
    if (!cameras.length) throw new Error("Tick at least one camera.");
    body = {
      identity: field("identity"),
      organisation: field("organisation"),
      contact: field("contact"),
      purpose: field("purpose"),
      legal_basis: field("legal_basis"),
      cameras,
      start: seconds(form.elements.start),
      end: seconds(form.elements.end),
      wanted_by: seconds(form.elements.wanted_by),
    };
    if (field("case_reference")) body.case_reference = field("case_reference");
  } catch (err) {
    message.textContent = err.message;
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await call("POST", "/api/requests", body);
    message.textContent = "Sent. The household decides; check back here.";
    message.classList.add("ok");
    await loadRequests();
  } catch (err) {
    message.textContent = err.message;
  } finally {
    button.disabled = false;
  }
});

start();
