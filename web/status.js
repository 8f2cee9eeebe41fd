// The status page: one card per camera, refreshed from /api/cameras (public).
// Live pictures are footage: they load only for a logged-in household member
// whose one-time password has been changed. The login, password and logout
// controls drive /api/auth; the session is an HttpOnly cookie.
// The live picture is the hub's MJPEG stream, made from frames it already decodes.
"use strict";

const REFRESH_MS = 2000;
const cards = new Map();
let me = null; // the answer of /api/auth/me, or null when not logged in

function fmtTime(unixSeconds) {
  if (unixSeconds == null) return "never";
  const ago = Date.now() / 1000 - unixSeconds;
  return ago < 60 ? `${ago.toFixed(1)} s ago` : new Date(unixSeconds * 1000).toLocaleString();
}

function canView(camera) {
  // me.cameras: the cameras a member may see; null for everyone else (owners see all).
  return me !== null && !me.must_change_password && (me.cameras == null || me.cameras.includes(camera));
}

function showLive(node) {
  const img = node.querySelector(".live");
  if (canView(node.dataset.camera)) {
    if (!img.getAttribute("src")) img.src = `/api/cameras/${encodeURIComponent(node.dataset.camera)}/live.mjpeg`;
  } else if (img.hasAttribute("src")) {
    img.removeAttribute("src"); // ends the stream
  }
}

function card(camera) {
  let node = cards.get(camera.name);
  if (!node) {
    node = document.getElementById("camera-card").content.firstElementChild.cloneNode(true);
    node.dataset.camera = camera.name;
    node.querySelector(".name").textContent = camera.name;
    const img = node.querySelector(".live");
    img.alt = `Live view of ${camera.name}`;
    // A refused or broken stream (session ended, hub restarting): ask again who we are, a little later.
    img.addEventListener("error", () => {
      if (!img.getAttribute("src")) return;
      img.removeAttribute("src");
      setTimeout(checkLogin, REFRESH_MS);
    });
    document.getElementById("cameras").append(node);
    cards.set(camera.name, node);
    showLive(node);
  }
  return node;
}

function render(cameras) {
  const online = cameras.filter((c) => c.online).length;
  const starting = cameras.filter((c) => c.state === "starting").length;
  document.getElementById("summary").textContent = starting
    ? `${starting} of ${cameras.length} cameras starting (their streams are being prepared), ${online} online`
    : `${online} of ${cameras.length} cameras online`;
  // A member limited to some cameras is told only of those: cards of cameras no longer listed go.
  const listed = new Set(cameras.map((c) => c.name));
  for (const [name, node] of cards) {
    if (listed.has(name)) continue;
    node.querySelector(".live").removeAttribute("src");
    node.remove();
    cards.delete(name);
  }
  for (const camera of cameras) {
    const node = card(camera);
    const state = node.querySelector(".state");
    state.textContent = camera.state;
    state.className = `state ${camera.state}`;
    node.querySelector(".fps-in").textContent = `${camera.fps_in.toFixed(1)} fps`;
    node.querySelector(".fps-analysed").textContent = `${camera.fps_analysed.toFixed(1)} fps`;
    node.querySelector(".last-frame").textContent = fmtTime(camera.last_frame_time);
    node.querySelector(".stream").textContent = camera.inputs
      .filter((i) => i.codec)
      .map((i) => `${i.roles.join("+")}: ${i.codec} ${i.width}×${i.height}`)
      .join(", ") || "not connected";
    const error = node.querySelector(".error");
    error.hidden = !camera.last_error || camera.online;
    error.textContent = camera.last_error || "";
  }
}

async function refresh() {
  try {
    const response = await fetch("/api/cameras", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    render(await response.json());
  } catch (err) {
    document.getElementById("summary").textContent = `Cannot reach the hub: ${err.message}`;
  }
}

function showAccount() {
  document.getElementById("login").hidden = me !== null;
  document.getElementById("change-password").hidden = !(me && me.must_change_password);
  document.getElementById("account").hidden = me === null;
  document.getElementById("who").textContent = me ? `Logged in as ${me.user}` : "";
  for (const node of cards.values()) showLive(node);
  // The pages' modules run only once the document is parsed, so they would miss an answer that came
  // sooner: until then, the news waits for them.
  const tell = () => document.dispatchEvent(new CustomEvent("camhub:me", { detail: me }));
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", tell, { once: true });
  else tell();
}

async function checkLogin() {
  try {
    const response = await fetch("/api/auth/me", { cache: "no-store" });
    if (response.status === 401) me = null;
    else if (response.ok) me = await response.json();
    else return;
  } catch {
    return; // the hub is unreachable; the summary line says so
  }
  showAccount();
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw new Error((answer && answer.message) || `HTTP ${response.status}`);
  return answer;
}

function onSubmit(id, path) {
  const form = document.getElementById(id);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const message = form.querySelector(".message");
    message.textContent = "";
    try {
      await post(path, Object.fromEntries(new FormData(form)));
      form.reset();
      await checkLogin();
    } catch (err) {
      message.textContent = err.message;
    }
  });
}

onSubmit("login", "/api/auth/login");
onSubmit("change-password", "/api/auth/password");
document.getElementById("logout").addEventListener("click", async () => {
  await fetch("/api/auth/logout", { method: "POST" }).catch(() => null);
  me = null;
  showAccount();
});

// Live updates (web/events.js): motion shows on the card at once; a new state or clip refreshes the cards.
function showMotion(camera, moving) {
  const node = cards.get(camera);
  if (!node) return;
  let badge = node.querySelector(".motion-now");
  if (moving && !badge) {
    badge = document.createElement("span");
    badge.className = "state motion-now";
    badge.textContent = "motion";
    badge.style.background = "#8250df";
    badge.style.margin = "0 0.25rem 0 auto"; // beside the state, at the right
    node.querySelector("header .state").before(badge);
  } else if (!moving && badge) {
    badge.remove();
  }
}

document.addEventListener("camhub:hub-event", (event) => {
  const { name, data } = event.detail;
  if (name === "motion_started" || name === "motion_ended") showMotion(data.camera, name === "motion_started");
  if (name === "camera_state" || name === "clip_saved") refresh();
});
document.addEventListener("camhub:hub-reconnected", refresh);

// What a newcomer does first: the one-time password was printed where the hub was started.
const firstLogin = document.createElement("p");
firstLogin.className = "first-login";
firstLogin.textContent =
  'First time here? Log in as "owner" with the one-time password printed where the hub was started ' +
  '(the line "owner login: ..." of camhub run or camhub demo); you then choose your own password.';
document.querySelector("#login h2").after(firstLogin);

checkLogin();
refresh();
setInterval(refresh, REFRESH_MS);
