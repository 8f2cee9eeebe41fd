// The review page (#review): one camera's clips over one day (in this browser's time zone), drawn on a
// timeline with the holds that keep footage, listed with thumbnails and the zones each touched, and played
// in a <video> straight from /api/clips/{id}/video (the hub serves it with HTTP Range). The filters are
// /api/clips's own query parameters: camera, zone, and start/end made from the day and the hour range.
// Members see only their cameras: the camera list is theirs, and the hub refuses the rest anyway.
// Names from the hub (cameras, zones, hold makers) are only ever set as textContent.

import { ApiError, getJson, me } from "./api.js";

const PAGE_SIZE = 500; // /api/clips's largest page
const MAX_PAGES = 20; // a day of more than 10,000 clips is cut, and the status line says so
const HOUR = 3600;

const $ = (id) => document.getElementById(id);
const form = $("review-filters");
const video = $("review-video");
const view = {
  clips: [], // the day's clips, oldest first
  current: -1, // index in `clips` of the clip in the player
  holds: [], // standing holds (owners and custodians only; members are not shown holds)
  zonesOf: "", // "camera/day" whose unfiltered clips filled the zone choices
  loads: 0, // the newest load; older answers arriving late are dropped
  newest: new Map(), // camera -> start of its newest clip
  started: false,
};

const canReview = () => me !== null && !me.must_change_password && ["owner", "member"].includes(me.role);
const pad = (n) => String(n).padStart(2, "0");
const dayText = (date) => `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
const clock = (seconds) => new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

// Unix seconds of `hour` o'clock on the local day "YYYY-MM-DD" (Date does the DST arithmetic).
function localTime(day, hour) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d, hour).getTime() / 1000;
}

function hours() {
  const from = Math.min(23, Math.max(0, Math.trunc(Number(form.elements.from.value) || 0)));
  const to = Math.min(24, Math.max(1, Math.trunc(Number(form.elements.to.value) || 24)));
  return { from, to };
}

function windowShown() {
  const { from, to } = hours();
  const day = form.elements.day.value;
  return { start: localTime(day, from), end: localTime(day, to) };
}

function say(text) {
  $("review-status").textContent = text;
}

// The cameras to choose from: those with clips (a removed camera's clips can still be reviewed) and the
// configured ones; a member's list holds only theirs. Remembers each camera's newest clip.
async function cameraNames() {
  const [withClips, configured] = await Promise.all([getJson("/api/clips/cameras"), getJson("/api/cameras")]);
  view.newest = new Map(withClips.cameras.map((c) => [c.camera, c.newest]));
  const names = new Set([...view.newest.keys(), ...configured.map((c) => c.name)]);
  const allowed = me && Array.isArray(me.cameras) ? me.cameras : null;
  return [...names].filter((n) => allowed === null || allowed.includes(n)).sort();
}

function fillSelect(select, values, first) {
  const keep = select.value;
  select.replaceChildren();
  if (first) select.append(new Option(first, ""));
  for (const value of values) select.append(new Option(value, value)); // Option sets text, never markup
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

// The day of the camera's newest clip, so the page opens on footage rather than on an empty today.
function newestDay(camera) {
  const newest = view.newest.get(camera);
  return dayText(newest === undefined ? new Date() : new Date(newest * 1000));
}

async function start() {
  view.started = true;
  $("review-zone").textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || "local";
  try {
    fillSelect(form.elements.camera, await cameraNames());
  } catch (err) {
    view.started = false;
    say(`Cannot list the cameras: ${err.message}`);
    return;
  }
  if (!form.elements.camera.value) {
    say("No cameras to review.");
    return;
  }
  if (!form.elements.day.value) form.elements.day.value = newestDay(form.elements.camera.value);
  await load();
}

async function allClips(query) {
  const clips = [];
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await getJson(`/api/clips?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    clips.push(...answer.clips);
    cursor = answer.next;
    if (!cursor) return { clips, cut: false };
  }
  return { clips, cut: true };
}

async function standingHolds() {
  if (!me || me.role !== "owner") return [];
  try {
    return (await getJson("/api/holds")).filter((h) => h.released_s === null);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return [];
    throw err;
  }
}

async function load() {
  const load = ++view.loads;
  const camera = form.elements.camera.value;
  const day = form.elements.day.value;
  const { from, to } = hours();
  if (!camera || !day) return;
  if (from >= to) {
    say(`The hour range ${from}–${to} is empty: "To hour" must be after "From hour".`);
    return;
  }
  const shown = windowShown();
  const zone = form.elements.zone.value;
  const query = new URLSearchParams({ camera, start: shown.start, end: shown.end, limit: PAGE_SIZE });
  if (zone) query.append("zone", zone);
  say("Loading clips…");
  let found, holds;
  try {
    [found, holds] = await Promise.all([allClips(query.toString()), standingHolds()]);
  } catch (err) {
    if (load !== view.loads) return;
    view.clips = [];
    render();
    say(err instanceof ApiError && err.status === 404 ? `No camera ${camera} to review.` : `Cannot load clips: ${err.message}`);
    return;
  }
  if (load !== view.loads) return;
  const playing = view.clips[view.current];
  view.clips = found.clips.sort((a, b) => a.start_time - b.start_time || a.id - b.id);
  view.holds = holds.filter((h) => h.cameras.includes(camera) && h.start_s < shown.end && h.end_s > shown.start);
  view.current = playing ? view.clips.findIndex((c) => c.id === playing.id) : -1;
  if (!zone && view.zonesOf !== `${camera}/${day}`) {
    view.zonesOf = `${camera}/${day}`;
    fillSelect(form.elements.zone, [...new Set(view.clips.flatMap((c) => c.zones))].sort(), "Any zone");
  }
  render();
  const count = `${view.clips.length} clip${view.clips.length === 1 ? "" : "s"}`;
  say(`${count} on ${camera}, ${day}, ${pad(from)}:00–${pad(to)}:00${zone ? ` in zone ${zone}` : ""}${found.cut ? " (only the first shown)" : ""}.`);
}

// Left and width, in percent of the shown window, of the span [start, end).
function place(node, start, end) {
  const shown = windowShown();
  const span = shown.end - shown.start;
  const left = Math.max(start, shown.start) - shown.start;
  const right = Math.min(end, shown.end) - shown.start;
  node.style.left = `${(100 * left) / span}%`;
  node.style.width = `${(100 * Math.max(0, right - left)) / span}%`;
}

function renderTimeline() {
  const track = $("review-timeline").querySelector(".track");
  track.replaceChildren();
  for (const hold of view.holds) {
    const span = document.createElement("div");
    span.className = "hold";
    span.dataset.hold = hold.id;
    span.title = `Held by ${hold.created_by}: ${clock(hold.start_s)}–${clock(hold.end_s)}`;
    place(span, hold.start_s, hold.end_s);
    track.append(span);
  }
  view.clips.forEach((clip, index) => {
    const mark = document.createElement("button");
    mark.type = "button";
    mark.className = "mark";
    mark.tabIndex = -1; // the list below is the keyboard's way through the clips
    mark.dataset.clip = clip.id;
    mark.setAttribute("aria-label", `Clip at ${clock(clip.start_time)}`);
    mark.title = `${clock(clip.start_time)}, ${clip.duration.toFixed(1)} s`;
    mark.addEventListener("click", () => play(index));
    place(mark, clip.start_time, clip.end_time);
    track.append(mark);
  });
  const { from, to } = hours();
  const every = to - from > 12 ? 3 : to - from > 6 ? 2 : 1;
  const ticks = $("review-timeline").querySelector(".hours");
  ticks.replaceChildren();
  for (let h = from; h <= to; h += every) {
    const tick = document.createElement("span");
    tick.textContent = pad(h);
    tick.style.left = `${(100 * (h - from)) / (to - from)}%`;
    ticks.append(tick);
  }
}

function renderHolds() {
  const list = $("review-holds");
  list.replaceChildren();
  for (const hold of view.holds) {
    const item = document.createElement("li");
    const basis = hold.basis === "owner" ? "an owner's hold" : "a preservation order";
    item.textContent = `Kept from deletion (${basis}, placed by ${hold.created_by}): ${new Date(hold.start_s * 1000).toLocaleString()} to ${new Date(hold.end_s * 1000).toLocaleString()}, until ${new Date(hold.expires_s * 1000).toLocaleDateString()}`;
    list.append(item);
  }
}

function renderList() {
  const list = $("review-clips");
  const template = $("review-clip-item");
  list.replaceChildren();
  view.clips.forEach((clip, index) => {
    const item = template.content.firstElementChild.cloneNode(true);
    item.dataset.clip = clip.id;
    const thumb = item.querySelector(".thumb");
    if (clip.thumbnail_url) thumb.src = clip.thumbnail_url;
    else thumb.classList.add("none");
    item.querySelector(".time").textContent = clock(clip.start_time);
    item.querySelector(".length").textContent = `${clip.duration.toFixed(1)} s`;
    item.querySelector(".zones").textContent = clip.zones.length ? `Zones: ${clip.zones.join(", ")}` : "No zone";
    item.querySelector("button").addEventListener("click", () => play(index));
    list.append(item);
  });
}

function markCurrent() {
  const id = String(view.clips[view.current]?.id ?? "");
  for (const node of document.querySelectorAll("#review-clips li, #review-timeline .mark")) {
    const on = node.dataset.clip === id;
    node.classList.toggle("current", on);
    if (node.tagName === "LI") {
      if (on) node.querySelector("button").setAttribute("aria-current", "true");
      else node.querySelector("button").removeAttribute("aria-current");
    }
  }
  $("review-prev").disabled = view.current <= 0;
  $("review-next").disabled = view.current < 0 || view.current >= view.clips.length - 1;
}

function render() {
  if (view.current < 0 && video.getAttribute("src")) {
    video.removeAttribute("src");
    video.load(); // stops the old clip's download
    $("review-download").hidden = true;
    $("review-playing").textContent = "";
  }
  renderTimeline();
  renderHolds();
  renderList();
  markCurrent();
}

function play(index) {
  const clip = view.clips[index];
  if (!clip) return;
  view.current = index;
  video.src = clip.video_url;
  video.play().catch(() => {}); // a browser that refuses autoplay still shows the controls
  const download = $("review-download");
  download.href = clip.video_url;
  download.download = `${clip.camera}-${Math.round(clip.start_time)}.mp4`;
  download.hidden = false;
  $("review-playing").textContent = `${clip.camera}, ${new Date(clip.start_time * 1000).toLocaleString()}, ${clip.duration.toFixed(1)} s${clip.zones.length ? `, zones ${clip.zones.join(", ")}` : ""}`;
  markCurrent();
}

const step = (by) => play(Math.min(view.clips.length - 1, Math.max(0, view.current + by)));

$("review-prev").addEventListener("click", () => step(-1));
$("review-next").addEventListener("click", () => step(1));
document.addEventListener("keydown", (event) => {
  if (document.body.dataset.page !== "review" || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest("input, select, textarea, dialog")) return;
  if (event.key === "n" || event.key === "p") {
    event.preventDefault();
    if (view.clips.length) step(event.key === "n" ? 1 : -1);
  }
});
form.addEventListener("submit", (event) => {
  event.preventDefault(); // Enter in a field loads at once
  load();
});
// Typing an hour applies once the typing pauses, without waiting for the field to lose focus.
let typing = null;
form.addEventListener("input", (event) => {
  if (event.target.name !== "from" && event.target.name !== "to") return;
  clearTimeout(typing);
  typing = setTimeout(load, 400);
});
form.addEventListener("change", (event) => {
  if (event.target.name === "camera" || event.target.name === "day") form.elements.zone.value = "";
  load(); // the clip in the player stays there if the new selection still holds it
});

function update() {
  const allowed = canReview();
  $("review-login").hidden = allowed;
  $("review-body").hidden = !allowed;
  if (!allowed) {
    view.started = false;
    view.clips = [];
    view.current = -1;
    render();
  } else if (document.body.dataset.page === "review" && !view.started) {
    start();
  }
}

document.addEventListener("camhub:me", () => setTimeout(update)); // after api.js has stored the answer
document.addEventListener("camhub:page", update);
update();
