// The owners' panel: requests for footage waiting for a decision, and the notices owners were sent.
// Only owners see it (status.js announces who is logged in with a "camhub:me" event). Deciding needs
// the password typed within the last five minutes: when the hub answers reauth_required, the panel
// asks for it, confirms it with /api/auth/reauth and repeats the decision.
"use strict";

const OUTSIDE_REFRESH_MS = 10000;
let owner = false;
let retry = null; // the decision waiting for the password, if any

function when(seconds) {
  return new Date(seconds * 1000).toLocaleString();
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

async function decide(id, decision, message) {
  const body = { decision };
  if (message) body.message = message;
  const response = await fetch(`/api/requests/${encodeURIComponent(id)}/decision`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => null);
  if (response.status === 401 && answer && answer.error === "reauth_required") return "reauth";
  if (!response.ok) throw new Error((answer && answer.message) || `HTTP ${response.status}`);
  return answer;
}

function requestItem(request) {
  const node = document.getElementById("request-item").content.firstElementChild.cloneNode(true);
  node.dataset.id = request.id;
  node.querySelector(".who").textContent =
    `${request.identity}, ${request.organisation} (${request.contact}); case ${request.case_reference || "none"}`;
  node.querySelector(".what").textContent = `${request.cameras.join(", ")}: ${request.purpose}`;
  node.querySelector(".when").textContent =
    `${when(request.start_s)} to ${when(request.end_s)}; wanted by ${when(request.wanted_by_s)}, ` +
    `expires ${when(request.expires_s)}`;
  for (const verb of ["approve", "deny"]) {
    node.querySelector(`.${verb}`).addEventListener("click", () => act(node, verb));
  }
  return node;
}

async function act(node, verb) {
  const message = node.querySelector(".message");
  message.textContent = "";
  try {
    const result = await decide(node.dataset.id, verb, node.querySelector(".reply").value.trim());
    if (result === "reauth") {
      retry = () => act(node, verb);
      document.getElementById("reauth").hidden = false;
      document.querySelector("#reauth input").focus();
      return;
    }
    message.textContent = `${result.state}`;
    await refreshOutside();
  } catch (err) {
    message.textContent = err.message;
  }
}

async function refreshOutside() {
  if (!owner) return;
  try {
    const [pending, notices] = await Promise.all([getJson("/api/requests?state=pending"), getJson("/api/notices")]);
    const list = document.getElementById("pending");
    const shown = new Set([...list.children].map((li) => li.dataset.id));
    const wanted = new Set(pending.map((r) => r.id));
    for (const li of [...list.children]) if (!wanted.has(li.dataset.id)) li.remove();
    for (const request of pending) if (!shown.has(request.id)) list.append(requestItem(request));
    if (!pending.length && !list.children.length) list.innerHTML = "<li class=\"empty\">Nothing is waiting.</li>";
    else list.querySelector(".empty")?.remove();
    document.getElementById("notices").replaceChildren(...notices.slice(0, 10).map((n) => {
      const li = document.createElement("li");
      // A registration's subject is its account (reg-...); the name it chose is only what it calls itself.
      const chosen = n.body && n.body.display_name ? `, calling itself "${n.body.display_name}"` : "";
      li.textContent = `${when(n.created_s)}: ${n.kind.replaceAll("_", " ")} (${n.subject}${chosen})`;
      return li;
    }));
  } catch {
    // the hub is unreachable or the session ended; status.js shows that
  }
}

document.addEventListener("camhub:me", (event) => {
  const me = event.detail;
  owner = Boolean(me && me.role === "owner" && !me.must_change_password);
  document.getElementById("outside").hidden = !owner;
  if (owner) refreshOutside();
});

document.getElementById("reauth").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const message = form.querySelector(".message");
  message.textContent = "";
  const response = await fetch("/api/auth/reauth", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ password: form.password.value }),
  });
  if (!response.ok) {
    const answer = await response.json().catch(() => null);
    message.textContent = (answer && answer.message) || `HTTP ${response.status}`;
    return;
  }
  form.reset();
  form.hidden = true;
  const again = retry;
  retry = null;
  if (again) await again();
});

setInterval(refreshOutside, OUTSIDE_REFRESH_MS);
