// Live updates for every page: one EventSource on /api/events, opened while a household member is logged
// in (with their own password set), closed at logout. The hub sends motion_started, motion_ended,
// clip_saved, camera_state and, to owners, request; a member gets only their cameras' events.
//
// Modules subscribe with `onHubEvent(name, callback)` (callback(data)); classic scripts such as status.js
// listen for the "camhub:hub-event" CustomEvent on document, whose detail is {name, data}. When the hub
// ends a stream (a client that fell behind, a restart), "camhub:hub-reconnected" is dispatched once the
// stream is back, so pages reload what they show rather than trust events they may have missed.

export const EVENT_NAMES = ["motion_started", "motion_ended", "clip_saved", "camera_state", "request"];
const RETRY_MS = 5000;

const listeners = new Map(EVENT_NAMES.map((name) => [name, new Set()]));
let source = null;
let wanted = false; // someone who may receive events is logged in
let opened = 0; // streams opened so far: after the first, an open means "reconnected"
let retry = null;

export function onHubEvent(name, callback) {
  if (!listeners.has(name)) throw new Error(`no hub event named ${name}; known: ${EVENT_NAMES.join(", ")}`);
  listeners.get(name).add(callback);
  return () => listeners.get(name).delete(callback);
}

export const connected = () => source !== null && source.readyState === EventSource.OPEN;

function deliver(name, raw) {
  let data;
  try {
    data = JSON.parse(raw);
  } catch {
    return;
  }
  for (const callback of listeners.get(name)) callback(data);
  document.dispatchEvent(new CustomEvent("camhub:hub-event", { detail: { name, data } }));
}

function open() {
  if (source !== null || !wanted) return;
  source = new EventSource("/api/events");
  for (const name of EVENT_NAMES) source.addEventListener(name, (event) => deliver(name, event.data));
  source.addEventListener("open", () => {
    document.body.dataset.live = "on";
    if (++opened > 1) document.dispatchEvent(new CustomEvent("camhub:hub-reconnected"));
  });
  source.addEventListener("error", () => {
    // The browser retries by itself after a dropped connection; an error answer (401, 503) closes the
    // source for good, so try again a little later, as long as someone is logged in.
    if (source.readyState !== EventSource.CLOSED) return;
    close();
    retry = setTimeout(open, RETRY_MS);
  });
}

function close() {
  clearTimeout(retry);
  if (source !== null) source.close();
  source = null;
  document.body.dataset.live = "off";
}

let told = false; // status.js announced who is logged in at least once
let latestMe = null;

// Who is logged in, as far as the page knows: the last "camhub:me", or this module's own first answer.
export const user = () => latestMe;

function follow(me) {
  latestMe = me;
  wanted = me !== null && !me.must_change_password && (me.role === "owner" || me.role === "member");
  if (wanted) open();
  else close();
}

document.addEventListener("camhub:me", (event) => {
  told = true;
  follow(event.detail);
});

// status.js (a classic script) may have announced the login before the modules ran, and then the
// modules missed it: ask once ourselves. Pages wait for this before their first load.
export const userKnown = fetch("/api/auth/me", { cache: "no-store" })
  .then((response) => (response.ok ? response.json() : null))
  .catch(() => null)
  .then((me) => {
    if (!told) follow(me);
    return latestMe;
  });
