// The accounts page (#accounts), for owners: the people who may log in (add, remove, and which cameras a
// member sees) and requester tokens (issue, revoke). Every change goes through withFreshPassword, since
// the hub wants the owner's password typed within the last five minutes for them. A new account's
// one-time password and a new token are shown once, in this page only, and never stored by it.
import { ApiError, getJson, request, when, withFreshPassword } from "./api.js";
import { user, userKnown } from "./events.js";

const ownerPart = document.getElementById("accounts-owner");
const refused = document.getElementById("accounts-refused");
const REFUSED = refused.textContent;
const addForm = document.getElementById("accounts-add");
const issueForm = document.getElementById("accounts-issue");
let cameras = []; // every camera's name (an owner's /api/cameras lists all)
let chooserId = 0;
let addChoice = () => null; // the add form's camera choice, once the cameras are known

// Checkboxes for "every camera" and each camera, into `fieldset`; `chosen` null means every camera.
// Returns a function giving the choice: null (every camera) or the list of names ticked.
function cameraChooser(fieldset, chosen) {
  for (const old of fieldset.querySelectorAll("label")) old.remove();
  const id = `accounts-cams-${++chooserId}`;
  const everyLabel = document.createElement("label");
  const every = document.createElement("input");
  every.type = "checkbox";
  every.className = "every";
  every.checked = chosen === null;
  everyLabel.append(every, " Every camera, also ones added later");
  fieldset.append(everyLabel);
  // The cameras running now, and any a member was given that is switched off at the moment.
  const names = [...new Set([...cameras, ...(chosen || [])])].sort();
  const boxes = names.map((name) => {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = name;
    box.name = id;
    box.checked = chosen !== null && chosen.includes(name);
    label.append(box, ` ${name}`);
    fieldset.append(label);
    return box;
  });
  const sync = () => {
    for (const box of boxes) box.disabled = every.checked;
  };
  every.addEventListener("change", sync);
  sync();
  return () => (every.checked ? null : boxes.filter((b) => b.checked).map((b) => b.value));
}

function showSecret(id, forWhom, secret) {
  const box = document.getElementById(id);
  box.querySelector(".for").textContent = forWhom;
  box.querySelector(".secret").textContent = secret;
  box.hidden = false;
  box.querySelector(".done").focus();
}

for (const id of ["accounts-password", "accounts-token"]) {
  const box = document.getElementById(id);
  box.querySelector(".done").addEventListener("click", () => {
    box.querySelector(".secret").textContent = ""; // gone from the page, as promised
    box.hidden = true;
  });
}

// Run an owner action from a button or form: its errors go to `message`; true when it was done.
async function act(message, action) {
  message.textContent = "";
  message.classList.remove("ok");
  try {
    // withFreshPassword answers null when the owner cancels the password dialog; a 204 answers null too.
    return (await withFreshPassword(async () => (await action()) ?? true)) !== null;
  } catch (err) {
    message.textContent = err instanceof ApiError ? err.message : String(err);
    return false;
  }
}

function personItem(person) {
  const node = document.getElementById("accounts-person").content.firstElementChild.cloneNode(true);
  node.dataset.user = person.username;
  node.querySelector(".username").textContent = person.username;
  node.querySelector(".role").textContent = person.role;
  node.querySelector(".note").textContent = person.must_change_password ? "(has not logged in yet)" : "";
  const message = node.querySelector(".message");
  if (person.role === "member") {
    const fieldset = node.querySelector(".accounts-cameras");
    fieldset.hidden = false;
    const choice = cameraChooser(fieldset, person.cameras);
    const save = node.querySelector(".save");
    save.hidden = false;
    save.addEventListener("click", async () => {
      const chosen = choice();
      if (chosen !== null && chosen.length === 0) {
        message.textContent = "Tick at least one camera, or every camera.";
        return;
      }
      const body = chosen === null ? {} : { cameras: chosen };
      const path = `/api/accounts/${encodeURIComponent(person.username)}/cameras`;
      if (await act(message, () => request("POST", path, body))) {
        message.textContent = "Saved.";
        message.classList.add("ok");
      }
    });
  }
  if (person.role !== "owner") {
    const remove = node.querySelector(".remove");
    remove.hidden = false;
    remove.setAttribute("aria-label", `Remove ${person.username}`);
    remove.addEventListener("click", async () => {
      if (!window.confirm(`Remove ${person.username}? They can no longer log in; their tokens stop working.`)) return;
      const path = `/api/accounts/${encodeURIComponent(person.username)}`;
      if (await act(message, () => request("DELETE", path))) await load();
    });
  }
  return node;
}

// The hub's clock decides expiry (the browser's may differ), so an unrevoked token keeps its button.
function tokenState(token) {
  if (token.revoked_at != null) return [`revoked ${when(token.revoked_at)}`, false];
  const used = token.last_used_at != null ? `last used ${when(token.last_used_at)}` : "never used";
  const until = token.expires_at != null ? `expires ${when(token.expires_at)}` : "valid until revoked";
  return [`${until}; ${used}`, true];
}

function tokenItem(token) {
  const node = document.getElementById("accounts-token-item").content.firstElementChild.cloneNode(true);
  node.dataset.token = String(token.id);
  node.querySelector(".requester").textContent = token.user;
  node.querySelector(".name").textContent = token.name;
  const [state, usable] = tokenState(token);
  node.querySelector(".token-state").textContent = state;
  const revoke = node.querySelector(".revoke");
  revoke.hidden = !usable;
  revoke.setAttribute("aria-label", `Revoke the token ${token.name} of ${token.user}`);
  revoke.addEventListener("click", async () => {
    const message = node.querySelector(".message");
    if (await act(message, () => request("DELETE", `/api/auth/tokens/${token.id}`))) await load();
  });
  return node;
}

async function load() {
  const me = user();
  const owner = me !== null && !me.must_change_password && me.role === "owner";
  refused.textContent = REFUSED;
  ownerPart.hidden = !owner;
  refused.hidden = owner;
  if (!owner) return;
  try {
    const [people, tokens, status] = await Promise.all([
      getJson("/api/accounts"),
      getJson("/api/auth/tokens"),
      getJson("/api/cameras"),
    ]);
    cameras = status.map((c) => c.name);
    document.getElementById("accounts-people").replaceChildren(...people.map(personItem));
    const requesterTokens = tokens.filter((t) => t.kind === "requester").reverse(); // newest first
    const list = document.getElementById("accounts-tokens");
    list.replaceChildren(...requesterTokens.map(tokenItem));
    if (requesterTokens.length === 0) {
      const none = document.createElement("li");
      none.textContent = "No requester tokens yet.";
      list.append(none);
    }
    if (!addForm.dataset.ready) {
      addForm.dataset.ready = "1";
      addChoice = cameraChooser(addForm.querySelector(".accounts-cameras"), null);
    }
  } catch (err) {
    refused.hidden = false;
    refused.textContent = `Cannot load the accounts: ${err.message}`;
  }
}

const roleSelect = addForm.elements.role;
roleSelect.addEventListener("change", () => {
  addForm.querySelector(".accounts-cameras").hidden = roleSelect.value !== "member";
});

addForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const message = addForm.querySelector(".message");
  const username = addForm.elements.username.value.trim();
  const body = { username, role: roleSelect.value };
  if (body.role === "member") {
    const chosen = addChoice();
    if (chosen !== null && chosen.length === 0) {
      message.textContent = "Tick at least one camera, or every camera.";
      return;
    }
    if (chosen !== null) body.cameras = chosen;
  }
  let made = null;
  const done = await act(message, async () => {
    made = await request("POST", "/api/accounts", body);
    return made;
  });
  if (!done || made === null) return;
  addForm.reset();
  addForm.dataset.ready = "";
  addForm.querySelector(".accounts-cameras").hidden = false;
  await load();
  showSecret("accounts-password", made.username, made.one_time_password);
});

issueForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const message = issueForm.querySelector(".message");
  const f = issueForm.elements;
  const body = {
    requester: f.requester.value.trim(),
    name: f.namedItem("name").value.trim(),
    expires_in_s: Math.round(Number(f.days.value) * 86400),
    sees: f.sees.value,
  };
  let issued = null;
  const done = await act(message, async () => {
    issued = await request("POST", "/api/requesters/tokens", body);
    return issued;
  });
  if (!done || issued === null) return;
  issueForm.reset();
  await load();
  showSecret("accounts-token", issued.requester, issued.token);
});

document.addEventListener("camhub:me", () => {
  if (document.body.dataset.page === "accounts") load();
});
document.addEventListener("camhub:page", (event) => {
  if (event.detail === "accounts") load();
});
userKnown.then(() => document.body.dataset.page === "accounts" && load());
