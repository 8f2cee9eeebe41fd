// Full quality: a "Full quality" button on each camera card the visitor may watch opens a dialog playing the
// camera's record input as the hub receives it. GET /api/cameras/<name>/live.mp4 answers fragmented MP4 made by
// stream copy (nothing decoded or encoded for a viewer), with the codecs string in its Content-Type; the
// fragments go to a Media Source Extensions buffer as they arrive. A codec this browser cannot play, or a
// stream the hub refuses, falls back to the low-rate MJPEG view with a sentence saying why.
import { me } from "./api.js";

const KEEP_SECONDS = 10; // buffered video kept behind the playhead; older is removed so memory stays flat
const LIVE_EDGE_SECONDS = 1.5; // further behind than this, the player jumps to the newest frame

let dialog = null;
let session = null; // the open stream: { controller, objectUrl }

function canView(camera) {
  return me !== null && !me.must_change_password && (me.cameras == null || me.cameras.includes(camera));
}

function build() {
  dialog = document.createElement("dialog");
  dialog.id = "full-quality";
  dialog.setAttribute("aria-labelledby", "full-quality-title");
  Object.assign(dialog.style, { border: "none", borderRadius: "8px", padding: "0.75rem", width: "min(64rem, 96vw)" });
  const header = document.createElement("header");
  Object.assign(header.style, { display: "flex", justifyContent: "space-between", alignItems: "center", gap: "1rem" });
  const title = document.createElement("h2");
  title.id = "full-quality-title";
  title.style.margin = "0";
  title.style.fontSize = "1.1rem";
  const close = document.createElement("button");
  close.type = "button";
  close.className = "close";
  close.textContent = "Close";
  header.append(title, close);
  const video = document.createElement("video");
  video.muted = true; // so it may start without a click; the record input carries no sound here anyway
  video.autoplay = true;
  video.playsInline = true;
  video.setAttribute("aria-label", "Full-quality live video");
  const fallback = document.createElement("img");
  fallback.className = "fallback";
  fallback.hidden = true;
  for (const media of [video, fallback]) Object.assign(media.style, { width: "100%", display: "block", background: "#000" });
  const message = document.createElement("p");
  message.className = "message";
  message.setAttribute("aria-live", "polite");
  dialog.append(header, video, fallback, message);
  document.body.append(dialog);
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", stop);
}

function stop() {
  if (session) {
    session.controller.abort();
    if (session.objectUrl) URL.revokeObjectURL(session.objectUrl);
    session = null;
  }
  const video = dialog.querySelector("video");
  video.removeAttribute("src");
  video.load();
  const fallback = dialog.querySelector(".fallback");
  fallback.removeAttribute("src"); // ends the MJPEG stream
  fallback.hidden = true;
}

function lowRate(camera, why) {
  dialog.querySelector("video").hidden = true;
  const fallback = dialog.querySelector(".fallback");
  fallback.alt = `Low-rate live view of ${camera}`;
  fallback.hidden = false;
  fallback.src = `/api/cameras/${encodeURIComponent(camera)}/live.mjpeg`;
  dialog.querySelector(".message").textContent = `${why} Showing the low-rate view instead.`;
}

async function open(camera) {
  if (!dialog) build();
  stop();
  dialog.dataset.camera = camera;
  dialog.querySelector("h2").textContent = `${camera}: full quality`;
  dialog.querySelector(".message").textContent = "Waiting for the next keyframe…";
  dialog.querySelector("video").hidden = false;
  if (!dialog.open) dialog.showModal();
  const controller = new AbortController();
  session = { controller, objectUrl: null };
  try {
    await stream(camera, controller);
  } catch (err) {
    if (controller.signal.aborted) return;
    lowRate(camera, `The full-quality stream stopped (${err.message}).`);
  }
}

async function stream(camera, controller) {
  const response = await fetch(`/api/cameras/${encodeURIComponent(camera)}/live.mp4`, {
    cache: "no-store",
    signal: controller.signal,
  });
  if (!response.ok) {
    const answer = await response.json().catch(() => null);
    return lowRate(camera, (answer && answer.message) || `The hub answered ${response.status}.`);
  }
  const type = response.headers.get("Content-Type") || "";
  if (!window.MediaSource || !MediaSource.isTypeSupported(type)) {
    controller.abort();
    const codec = type.includes("hev1") || type.includes("hvc1") ? "H.265" : type;
    return lowRate(camera, `This browser cannot play this camera's codec (${codec}) at full quality.`);
  }
  const video = dialog.querySelector("video");
  const source = new MediaSource();
  session.objectUrl = URL.createObjectURL(source);
  video.src = session.objectUrl;
  await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
  const buffer = source.addSourceBuffer(type);
  buffer.mode = "sequence"; // a viewer starts mid-stream; its first fragment plays from time 0
  const reader = response.body.getReader();
  let started = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    await append(buffer, value);
    trim(video, buffer);
    if (!started && video.buffered.length) {
      started = true;
      dialog.querySelector(".message").textContent = "";
      video.play().catch(() => null);
    }
  }
  if (!controller.signal.aborted) throw new Error("the camera reconnected, or the connection was too slow");
}

async function append(buffer, bytes) {
  if (buffer.updating) await new Promise((resolve) => buffer.addEventListener("updateend", resolve, { once: true }));
  return new Promise((resolve, reject) => {
    buffer.addEventListener("updateend", resolve, { once: true });
    buffer.addEventListener("error", () => reject(new Error("the browser could not play a fragment")), { once: true });
    buffer.appendBuffer(bytes);
  });
}

function trim(video, buffer) {
  if (!video.buffered.length || buffer.updating) return;
  const end = video.buffered.end(video.buffered.length - 1);
  if (end - video.currentTime > LIVE_EDGE_SECONDS) video.currentTime = end - 0.2; // stay live, not behind
  const start = video.buffered.start(0);
  if (video.currentTime - start > 2 * KEEP_SECONDS) buffer.remove(start, video.currentTime - KEEP_SECONDS);
}

function addButton(card) {
  if (card.querySelector("button.full-quality")) return;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "full-quality";
  button.textContent = "Full quality";
  button.setAttribute("aria-label", `Full quality live view of ${card.dataset.camera}`);
  button.addEventListener("click", () => open(card.dataset.camera));
  const live = card.querySelector(".live");
  if (live) live.after(button);
  else card.append(button);
  button.hidden = !canView(card.dataset.camera);
}

function update() {
  for (const card of document.querySelectorAll("#cameras article.camera[data-camera]")) {
    addButton(card);
    card.querySelector("button.full-quality").hidden = !canView(card.dataset.camera);
  }
  if (dialog && dialog.open && !canView(dialog.dataset.camera)) dialog.close(); // logged out, or camera taken away
}

const cameras = document.getElementById("cameras");
if (cameras) new MutationObserver(update).observe(cameras, { childList: true });
document.addEventListener("camhub:me", () => setTimeout(update)); // after api.js has taken the new `me`
update();
