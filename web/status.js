// The status page: one card per camera, refreshed from /api/cameras.
// The live picture is the hub's MJPEG stream, made from frames it already decodes.
"use strict";

const REFRESH_MS = 2000;
const cards = new Map();

function fmtTime(unixSeconds) {
  if (unixSeconds == null) return "never";
  const ago = Date.now() / 1000 - unixSeconds;
  return ago < 60 ? `${ago.toFixed(1)} s ago` : new Date(unixSeconds * 1000).toLocaleString();
}

function card(camera) {
  let node = cards.get(camera.name);
  if (!node) {
    node = document.getElementById("camera-card").content.firstElementChild.cloneNode(true);
    node.dataset.camera = camera.name;
    node.querySelector(".name").textContent = camera.name;
    const img = node.querySelector(".live");
    img.alt = `Live view of ${camera.name}`;
    img.src = `/api/cameras/${encodeURIComponent(camera.name)}/live.mjpeg`;
    document.getElementById("cameras").append(node);
    cards.set(camera.name, node);
  }
  return node;
}

function render(cameras) {
  const online = cameras.filter((c) => c.online).length;
  document.getElementById("summary").textContent = `${online} of ${cameras.length} cameras online`;
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

refresh();
setInterval(refresh, REFRESH_MS);
