// The requests page (#requests), for owners: the consent queue, each request with who asks, why, which
// cameras and the window drawn on a small timeline; approve everything, give only part of it (fewer
// cameras, a shorter window by the time inputs or the timeline's handles, chosen clips), or deny.
// Below, the share links of released requests with their downloads left and a revoke button.
// Every owner action goes through withFreshPassword: the hub asks for the password typed within 5 min.

import { ApiError, getJson, isOwner, localInput, request, text, when, withFreshPassword } from "./api.js";
import { windowTimeline } from "./window-timeline.js";

const REFRESH_MS = 10000;
const pending = new Map(); // request id -> its item's controller, kept so an owner's choices survive a refresh

const $ = (id) => document.getElementById(id);

function fromInput(value) {
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : Math.round(ms / 1000);
}

function span(startS, endS) {
  return `${when(startS)} to ${when(endS)}`;
}

function describeScope(scope) {
  if (!scope) return "nothing";
  const clips = scope.clip_ids ? `, ${scope.clip_ids.length} chosen clip(s)` : "";
  return `${scope.cameras.join(", ")}, ${span(scope.start_s, scope.end_s)}${clips}`;
}

// One pending request: its controls and what the owner chose so far.
function pendingItem(req) {
  const node = $("consent-request").content.firstElementChild.cloneNode(true);
  node.dataset.id = req.id;
  const asked = { start: req.start_s, end: req.end_s };
  const chosen = { start: req.start_s, end: req.end_s };
  let clips = [];
  const message = node.querySelector(".consent-message");
  const org = req.case_reference ? `${req.organisation}, case ${req.case_reference}` : req.organisation;
  node.querySelector(".consent-who").textContent = `${req.identity} (${org}; ${req.contact}), as ${req.requester}`;
  node.querySelector(".consent-purpose").textContent = req.purpose;
  node.querySelector(".consent-basis").textContent = req.legal_basis
    ? `Legal basis: ${req.legal_basis}`
    : "No legal basis given.";
  node.querySelector(".consent-when").textContent =
    `Asks for ${req.cameras.join(", ")}, ${span(req.start_s, req.end_s)}. ` +
    `Wanted by ${when(req.wanted_by_s)}; expires ${when(req.expires_s)} if undecided.`;

  const startInput = node.querySelector(".consent-start");
  const endInput = node.querySelector(".consent-end");
  for (const input of [startInput, endInput]) {
    input.min = localInput(asked.start);
    input.max = localInput(asked.end);
  }
  const timeline = windowTimeline(asked, (start, end) => {
    chosen.start = start;
    chosen.end = end;
    startInput.value = localInput(start);
    endInput.value = localInput(end);
    markClips();
  });
  node.querySelector(".consent-timeline").append(timeline.node);
  startInput.value = localInput(asked.start);
  endInput.value = localInput(asked.end);
  for (const [input, edge] of [[startInput, "start"], [endInput, "end"]]) {
    input.addEventListener("change", () => {
      const seconds = fromInput(input.value);
      if (seconds === null) return;
      chosen[edge] = Math.min(Math.max(seconds, asked.start), asked.end);
      timeline.set(chosen.start, chosen.end);
      markClips();
    });
  }

  const cameraSet = node.querySelector(".consent-cameras");
  for (const camera of req.cameras) {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = true;
    box.value = camera;
    box.className = "consent-camera";
    box.addEventListener("change", markClips);
    label.append(box, ` ${camera}`);
    cameraSet.append(label);
  }
  const cameras = () => [...cameraSet.querySelectorAll("input:checked")].map((box) => box.value);

  const clipList = node.querySelector(".consent-clip-list");
  // A clip counts when its camera is given and it overlaps the chosen window.
  const inScope = (clip) =>
    cameras().includes(clip.camera) && clip.start_time < chosen.end && clip.end_time > chosen.start;
  function markClips() {
    for (const li of clipList.children) {
      const clip = clips.find((c) => String(c.id) === li.dataset.clip);
      const outside = !clip || !inScope(clip);
      li.classList.toggle("outside", outside);
      li.querySelector("input").disabled = outside;
    }
  }
  getJson(`/api/requests/${encodeURIComponent(req.id)}/clips`)
    .then((found) => {
      clips = found;
      timeline.setClips(found);
      clipList.replaceChildren(
        ...found.map((clip) => {
          const li = document.createElement("li");
          li.dataset.clip = String(clip.id);
          const label = document.createElement("label");
          const box = document.createElement("input");
          box.type = "checkbox";
          box.checked = true;
          box.value = String(clip.id);
          label.append(box, ` ${clip.camera}, ${when(clip.start_time)} (${Math.round(clip.duration)} s, clip ${clip.id})`);
          li.append(label);
          return li;
        }),
      );
      if (!found.length) clipList.append(text("li", "No clips in the asked window."));
      markClips();
    })
    .catch((err) => {
      message.textContent = `Could not list the clips: ${err.message}`;
    });

  // The narrowed decision: only what differs from what was asked.
  function narrowing() {
    const body = { decision: "narrow" };
    const given = cameras();
    if (!given.length) throw new Error("Tick at least one camera, or deny the request.");
    if (chosen.start >= chosen.end) throw new Error("The window must end after it starts.");
    if (given.length < req.cameras.length) body.cameras = given;
    if (chosen.start > asked.start) body.start = chosen.start;
    if (chosen.end < asked.end) body.end = chosen.end;
    const reachable = clips.filter(inScope);
    const ticked = reachable.filter((clip) => clipList.querySelector(`li[data-clip="${clip.id}"] input`)?.checked);
    if (reachable.length && !ticked.length) throw new Error("Tick at least one clip, or deny the request.");
    if (ticked.length < reachable.length) body.clip_ids = ticked.map((clip) => clip.id);
    return body;
  }

  async function decide(verb) {
    message.textContent = "";
    let body;
    try {
      body = verb === "narrow" ? narrowing() : { decision: verb };
    } catch (err) {
      message.textContent = err.message;
      return;
    }
    const reply = node.querySelector(".consent-reply").value.trim();
    if (reply) body.message = reply;
    for (const button of node.querySelectorAll("button")) button.disabled = true;
    try {
      const path = `/api/requests/${encodeURIComponent(req.id)}/decision`;
      const answer = await withFreshPassword(() => request("POST", path, body));
      if (answer === null) {
        message.textContent = "Not decided: the password was not confirmed.";
      } else {
        const granted = answer.granted ? `: ${describeScope(answer.granted)}` : "";
        $("consent-status").textContent = `Request from ${req.identity} ${answer.state}${granted}.`;
        await refresh();
      }
    } catch (err) {
      message.textContent = err instanceof ApiError ? err.message : String(err);
    } finally {
      for (const button of node.querySelectorAll("button")) button.disabled = false;
    }
  }
  node.querySelector(".consent-approve").addEventListener("click", () => decide("approve"));
  node.querySelector(".consent-narrow").addEventListener("click", () => decide("narrow"));
  node.querySelector(".consent-deny").addEventListener("click", () => decide("deny"));
  return node;
}

function linkState(link) {
  if (link.revoked_s !== null) return `revoked ${when(link.revoked_s)}`;
  if (link.usable) return "usable";
  if (link.downloads >= link.max_downloads) return "used up";
  return "expired";
}

function linkItem(req) {
  const link = req.share_link;
  const li = document.createElement("li");
  li.className = "consent-item consent-link";
  li.dataset.id = req.id;
  li.append(
    text("p", `${req.identity} (${req.organisation}): ${describeScope(req.granted)}`, "consent-who"),
    text(
      "p",
      `${link.max_downloads - link.downloads} of ${link.max_downloads} downloads left; ` +
        `expires ${when(link.expires_s)}; ${linkState(link)}`,
      "consent-link-state",
    ),
  );
  const message = text("p", "", "consent-message");
  message.setAttribute("aria-live", "polite");
  if (link.usable) {
    const revoke = text("button", "Revoke link", "consent-revoke");
    revoke.type = "button";
    revoke.addEventListener("click", async () => {
      revoke.disabled = true;
      try {
        const path = `/api/requests/${encodeURIComponent(req.id)}/revoke`;
        if ((await withFreshPassword(() => request("POST", path))) !== null) {
          $("consent-status").textContent = `The link for ${req.identity} was revoked; it refuses downloads.`;
          await refresh();
        }
      } catch (err) {
        message.textContent = err.message;
      } finally {
        revoke.disabled = false;
      }
    });
    li.append(revoke);
  }
  li.append(message);
  return li;
}

function decidedItem(req) {
  const li = document.createElement("li");
  li.className = "consent-item";
  li.dataset.id = req.id;
  const decided = req.decided_s ? ` ${when(req.decided_s)}` : "";
  li.append(
    text("p", `${req.identity} (${req.organisation}): ${req.state}${decided}`, "consent-who"),
    text("p", req.purpose, "consent-purpose"),
  );
  if (req.granted) li.append(text("p", `Given: ${describeScope(req.granted)}`));
  if (req.message) li.append(text("p", `Message: ${req.message}`));
  return li;
}

function empty(list, words) {
  if (!list.children.length) list.append(text("li", words, "consent-empty"));
}

async function refresh() {
  if (!isOwner() || document.body.dataset.page !== "requests") return;
  let all;
  try {
    all = await getJson("/api/requests");
  } catch (err) {
    $("consent-status").textContent = `Could not load the requests: ${err.message}`;
    return;
  }
  const waiting = all.filter((r) => r.state === "pending");
  const list = $("consent-pending");
  list.querySelector(".consent-empty")?.remove();
  for (const [id, node] of pending) {
    if (!waiting.some((r) => r.id === id)) {
      node.remove();
      pending.delete(id);
    }
  }
  for (const req of waiting) {
    if (!pending.has(req.id)) {
      const node = pendingItem(req);
      pending.set(req.id, node);
      list.append(node);
    }
  }
  empty(list, "Nothing is waiting.");
  $("consent-links").replaceChildren(...all.filter((r) => r.share_link).map(linkItem));
  empty($("consent-links"), "No share links yet.");
  $("consent-decided").replaceChildren(...all.filter((r) => r.state !== "pending").map(decidedItem));
  empty($("consent-decided"), "Nothing decided yet.");
}

function show() {
  const owner = isOwner();
  $("consent-owner").hidden = !owner;
  if (!owner) {
    $("consent-status").textContent = "Log in as an owner to see the requests.";
    return;
  }
  if ($("consent-status").textContent.startsWith("Log in")) $("consent-status").textContent = "";
  refresh();
}

document.addEventListener("camhub:me", () => queueMicrotask(show));
document.addEventListener("camhub:page", () => queueMicrotask(show));
setInterval(refresh, REFRESH_MS);
show();
