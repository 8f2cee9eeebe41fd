// The Overrides page (#overrides): file a legal-process override (the PDF is uploaded first to
// /api/documents, then the override names it by SHA-256), read the overrides this account may see, and
// renew or release holds. Owners and custodians only; the hub checks every field and every right, so the
// page shows the hub's own message next to the field it names (the browser's `required` covers only
// what it can know: which fields the legal process needs, e.g. a warrant's judge, the hub decides).

import { ApiError, cameraCheckbox, getJson, me, request, text, when, withFreshPassword } from "/static/api.js";

const section = document.getElementById("overrides");
const form = document.getElementById("override-form");
const history = section.querySelector(".ovr-history");
const holdList = section.querySelector(".ovr-holds");
const holdsMessage = section.querySelector(".ovr-holds-message");
const formMessage = form.querySelector(".message");

const KIND_NAMES = {
  search_warrant: "Search warrant",
  court_order: "Court order",
  subpoena: "Subpoena",
  emergency: "Emergency",
  preservation: "Preservation order",
};

const mayUse = () => me !== null && !me.must_change_password && ["owner", "custodian"].includes(me.role);

// One error line per field, placed after its control, so the hub's message sits beside what it names.
const fieldErrors = new Map();
function errorSlot(name) {
  if (fieldErrors.has(name)) return fieldErrors.get(name);
  const holder = form.querySelector(`[data-field="${name}"]`) || form.elements[name]?.closest("label");
  if (!holder) return null;
  const slot = document.createElement("span");
  slot.className = "field-error";
  slot.id = `ovr-error-${name}`;
  slot.hidden = true;
  holder.append(slot);
  fieldErrors.set(name, slot);
  return slot;
}

function clearErrors() {
  formMessage.textContent = "";
  for (const [name, slot] of fieldErrors) {
    slot.hidden = true;
    slot.textContent = "";
    const control = form.elements[name];
    if (control && control.removeAttribute) {
      control.removeAttribute("aria-invalid");
      control.removeAttribute("aria-describedby");
    }
  }
}

// The hub names the field it refuses in quotes ("'judge' is required"); show the message beside it.
function showError(err) {
  const message = err instanceof ApiError ? err.message : String(err);
  formMessage.textContent = message;
  const named = [...message.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]).find((name) => errorSlot(name));
  if (!named) return;
  formMessage.textContent = "Not filed: see the field marked above.";
  const slot = errorSlot(named);
  slot.textContent = message;
  slot.hidden = false;
  const control = form.elements[named];
  const focusable = control instanceof HTMLElement ? control : form.querySelector(`[data-field="${named}"] input`);
  if (control instanceof HTMLElement) {
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", slot.id);
  }
  focusable?.focus();
}

// datetime-local and date inputs hold no zone: read them as the browser's local time, send ISO 8601 UTC.
const isoTime = (value) => (value ? new Date(value).toISOString().replace(/\.\d{3}Z$/, "Z") : undefined);
const isoDate = (value) => (value ? `${value}T00:00:00Z` : undefined);
const typed = (name) => form.elements[name].value.trim() || undefined;

async function uploadDocument(file) {
  let response;
  try {
    response = await fetch("/api/documents", {
      method: "POST",
      cache: "no-store",
      headers: { "Content-Type": "application/pdf" },
      body: file,
    });
  } catch {
    throw new ApiError(0, "unreachable", "Cannot reach the hub");
  }
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = answer && typeof answer.message === "string" ? answer.message : `HTTP ${response.status}`;
    throw new ApiError(response.status, answer?.error ?? null, `'document_sha256': ${detail}`);
  }
  return answer.sha256;
}

function overrideBody(documentSha256) {
  const body = {
    kind: form.elements.kind.value || undefined,
    authority: typed("authority"),
    jurisdiction: typed("jurisdiction"),
    case_number: typed("case_number"),
    judge: typed("judge"),
    issued: isoDate(form.elements.issued.value),
    agency: typed("agency"),
    officer_contact: typed("officer_contact"),
    cameras: [...form.querySelectorAll("input[name=cameras]:checked")].map((box) => box.value),
    start: isoTime(form.elements.start.value),
    end: isoTime(form.elements.end.value),
    document_sha256: documentSha256,
    notice: form.elements.notice.value,
  };
  if (body.cameras.length === 0) delete body.cameras;
  if (body.notice === "delayed") {
    body.notice_delayed_until = isoTime(form.elements.notice_delayed_until.value);
    body.delay_ordered_by = typed("delay_ordered_by");
    body.delay_provision = typed("delay_provision");
  }
  // What is left empty is left out, so the hub names it rather than refusing an empty string.
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const file = form.elements.document_sha256.files[0];
    const documentSha256 = file ? await uploadDocument(file) : undefined;
    const filed = await withFreshPassword(() => request("POST", "/api/overrides", overrideBody(documentSha256)));
    if (filed === null) {
      formMessage.textContent = "Not filed: the password was not confirmed.";
      return;
    }
    form.reset();
    form.querySelector(".ovr-delay").hidden = true;
    formMessage.textContent = `Filed ${KIND_NAMES[filed.kind] ?? filed.kind} ${filed.case_number} (${filed.id}).`;
    await refresh();
  } catch (err) {
    showError(err);
  } finally {
    button.disabled = false;
  }
});

form.elements.notice.addEventListener("change", () => {
  form.querySelector(".ovr-delay").hidden = form.elements.notice.value !== "delayed";
});

const line = (className, content) => text("p", content, className);

function window_(item) {
  return `${item.cameras.join(", ")}, ${when(item.start_s)} to ${when(item.end_s)}`;
}

function noticeText(o) {
  if (o.notice_sent_s !== null) return `Owners told ${when(o.notice_sent_s)}.`;
  return `Sealed: owners are told ${when(o.notice_delayed_until_s)} (delay ordered by ${o.delay_ordered_by}).`;
}

function followUpText(o) {
  if (o.kind !== "emergency") return null;
  if (o.follow_up) return `Follow-up ${o.follow_up.kind} ${o.follow_up.case_number} filed ${when(o.follow_up.filed_s)}.`;
  if (o.follow_up_missed_s) return `Follow-up legal process missed (due ${when(o.follow_up_due_s)}).`;
  return `Follow-up legal process due by ${when(o.follow_up_due_s)}.`;
}

function overrideItem(o) {
  const li = document.createElement("li");
  li.className = "ovr-item";
  li.dataset.id = o.id;
  li.dataset.sealed = String(o.notice_sent_s === null);
  li.append(
    line("ovr-title", `${KIND_NAMES[o.kind] ?? o.kind} ${o.case_number}: ${o.authority} (${o.jurisdiction})`),
    line("ovr-what", `${window_(o)}; for ${o.agency} (${o.officer_contact})`),
    line("ovr-by", `Filed by ${o.invoked_by} ${when(o.invoked_s)}${o.judge ? `; judge ${o.judge}` : ""}.`),
    line("ovr-notice", noticeText(o)),
  );
  const followUp = followUpText(o);
  if (followUp) li.append(line("ovr-follow-up", followUp));
  if (o.supplied) {
    const s = o.supplied;
    li.append(line("ovr-supplied", `Supplied ${s.files} files (${s.bytes} bytes), downloaded ${s.downloads} times.`));
  }
  if (o.hold_id) li.append(line("ovr-hold", `Keeps footage under hold ${o.hold_id}.`));
  const url = o.share_link?.url;
  if (typeof url === "string" && url.startsWith("/api/share/")) {
    const p = line("ovr-link", "The agency's link (hand it over; it is their key to the footage): ");
    const a = document.createElement("a");
    a.href = url;
    a.textContent = new URL(url, location.href).href;
    p.append(a);
    li.append(p);
  }
  return li;
}

function holdItem(hold) {
  const li = document.createElement("li");
  li.className = "ovr-hold-item";
  li.dataset.id = hold.id;
  const basis = hold.basis === "owner" ? "placed by an owner" : `for ${hold.basis.replace(":", " ")}`;
  li.append(
    line("hold-what", window_(hold)),
    line("hold-by", `Hold ${basis}, by ${hold.created_by} ${when(hold.created_s)}.`),
  );
  const state = hold.released_s !== null ? `Released ${when(hold.released_s)}.` : `Kept until ${when(hold.expires_s)}.`;
  const stateLine = line("hold-state", state);
  stateLine.dataset.expires = String(hold.expires_s);
  li.append(stateLine);
  // The hub's clock decides expiry (it releases expired holds itself), so only a release hides the buttons.
  if (hold.released_s === null) {
    const buttons = document.createElement("p");
    buttons.className = "buttons";
    for (const [label, action] of [["Renew", "renew"], ["Release", "release"]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = `hold-${action}`;
      button.textContent = label;
      button.addEventListener("click", () => holdAction(hold, action, button));
      buttons.append(button);
    }
    li.append(buttons);
  }
  return li;
}

async function holdAction(hold, action, button) {
  holdsMessage.textContent = "";
  button.disabled = true;
  try {
    const done = await withFreshPassword(() => request("POST", `/api/holds/${encodeURIComponent(hold.id)}/${action}`));
    if (done === null) holdsMessage.textContent = "Nothing changed: the password was not confirmed.";
    else {
      const until = action === "renew" ? `, kept until ${when(done.expires_s)}` : "";
      holdsMessage.textContent = `Hold on ${done.cameras.join(", ")} ${action === "renew" ? "renewed" : "released"}${until}.`;
    }
  } catch (err) {
    holdsMessage.textContent = err.message;
  } finally {
    button.disabled = false;
    await refresh();
  }
}

function empty(list, message) {
  if (list.children.length === 0) list.append(line("hint", message));
}

async function loadCameras() {
  const holder = form.querySelector(".ovr-camera-list");
  if (holder.children.length) return;
  // Every camera the hub knows, recording now or not: a camera switched off still has footage.
  for (const name of await getJson("/api/privacy/cameras")) holder.append(cameraCheckbox(name, "ovr-camera"));
}

async function refresh() {
  const [overrides, holds] = await Promise.all([getJson("/api/overrides"), getJson("/api/holds")]);
  history.replaceChildren(...overrides.map(overrideItem));
  empty(history, "No override on record.");
  holdList.replaceChildren(...holds.map(holdItem));
  empty(holdList, "No holds.");
  section.dataset.loaded = String(Date.now());
}

async function show() {
  const allowed = mayUse();
  section.querySelector(".ovr-who").hidden = allowed;
  section.querySelector(".ovr-body").hidden = !allowed;
  if (!allowed || document.body.dataset.page !== "overrides") return;
  try {
    await loadCameras();
    await refresh();
  } catch (err) {
    holdsMessage.textContent = err.message;
  }
}

for (const name of ["kind", "authority", "jurisdiction", "case_number", "judge", "issued", "agency",
  "officer_contact", "cameras", "start", "end", "document_sha256", "notice", "notice_delayed_until",
  "delay_ordered_by", "delay_provision"]) errorSlot(name);
document.addEventListener("camhub:me", show);
document.addEventListener("camhub:page", show);
show();
