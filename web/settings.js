// The camera settings page (#settings): pick a camera, change its numbers, and draw its zones and masks
// over the latest picture. Everything is read from and saved to /api/cameras/{name}/settings; saving is an
// owner action, so the hub may ask for the password again (api.js withFreshPassword). Points are kept in
// the API's own form: [x, y] in 0..1 of the frame, (0, 0) the top left. The typed corners field is the
// keyboard's way to the same drawing.

import { ApiError, getJson, isOwner, me, request, withFreshPassword } from "./api.js";

const NUMBERS = ["motion_threshold", "min_area", "analysis_fps", "pre_roll", "post_roll", "retain_days"];
const SNAP = 0.02; // a corner this close to an edge goes onto it, so a mask can cover the frame's border
const SVG = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);
const hint = $("settings-hint");
const body = $("settings-body");
const picker = $("settings-camera");
const form = $("settings-form");
const snapshot = $("settings-snapshot");
const overlay = $("settings-overlay");
const pointsField = $("settings-points");
const message = $("settings-message");

let shown = null; // the camera whose settings the form shows
let zones = {}; // name -> {points, min_area}, as the form has them now (saved or not)
let masks = []; // polygons
let draft = []; // corners of the shape being drawn

function onPage() {
  return document.body.dataset.page === "settings";
}

async function refresh() {
  if (!onPage()) return;
  if (me === null || me.must_change_password) {
    hint.textContent = "Log in to see the cameras' settings.";
    body.hidden = true;
    return;
  }
  let cameras;
  try {
    cameras = (await getJson("/api/cameras")).map((c) => c.name);
  } catch (err) {
    hint.textContent = err.message;
    return;
  }
  if (Array.isArray(me.cameras)) cameras = cameras.filter((name) => me.cameras.includes(name));
  if (cameras.length === 0) {
    hint.textContent = "There is no running camera to set up.";
    body.hidden = true;
    return;
  }
  hint.textContent = isOwner()
    ? "Changes apply at once, with no restart, and are written to the audit log."
    : "Only owners change settings; you can see them.";
  const names = [...picker.options].map((o) => o.value);
  if (names.join() !== cameras.join()) {
    picker.replaceChildren(
      ...cameras.map((name) => {
        const option = document.createElement("option");
        option.value = option.textContent = name;
        return option;
      }),
    );
  }
  if (!cameras.includes(shown)) shown = null;
  picker.value = shown || cameras[0];
  form.querySelectorAll("fieldset, button").forEach((el) => (el.disabled = !isOwner()));
  body.hidden = false;
  if (shown === null) await load(picker.value);
}

async function load(camera) {
  message.textContent = "";
  let answer;
  try {
    answer = await getJson(`/api/cameras/${encodeURIComponent(camera)}/settings`);
  } catch (err) {
    message.textContent = err.message;
    return;
  }
  shown = camera;
  const settings = answer.settings;
  for (const key of NUMBERS) form.elements[key].value = settings[key] === null ? "" : String(settings[key]);
  form.querySelector(".settings-default-days").textContent = String(answer.retention_days);
  zones = structuredClone(settings.zones);
  masks = structuredClone(settings.masks);
  draft = [];
  snapshot.src = `/api/cameras/${encodeURIComponent(camera)}/snapshot.jpg?at=${Date.now()}`;
  draw();
}

// -- drawing

function polygon(points, className) {
  const shape = document.createElementNS(SVG, points.length >= 3 ? "polygon" : "polyline");
  shape.setAttribute("points", points.map(([x, y]) => `${x},${y}`).join(" "));
  shape.setAttribute("class", className);
  return shape;
}

function draw() {
  const shapes = [
    ...masks.map((points) => polygon(points, "mask")),
    ...Object.values(zones).map((zone) => polygon(zone.points, "zone")),
  ];
  if (draft.length) {
    const open = document.createElementNS(SVG, "polyline");
    open.setAttribute("points", draft.map(([x, y]) => `${x},${y}`).join(" "));
    open.setAttribute("class", "draft");
    shapes.push(open);
    for (const [x, y] of draft) {
      const corner = document.createElementNS(SVG, "circle");
      corner.setAttribute("cx", x);
      corner.setAttribute("cy", y);
      corner.setAttribute("r", "0.008");
      corner.setAttribute("class", "corner");
      shapes.push(corner);
    }
  }
  overlay.replaceChildren(...shapes);
  if (document.activeElement !== pointsField) pointsField.value = draft.map(([x, y]) => `${x},${y}`).join(" ");
  listShapes();
}

function listShapes() {
  const items = [];
  const item = (text, remove) => {
    const li = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = text;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Delete";
    button.setAttribute("aria-label", `Delete ${text.split(":")[0]}`);
    button.disabled = !isOwner();
    button.addEventListener("click", () => {
      remove();
      draw();
    });
    li.append(label, " ", button);
    items.push(li);
  };
  masks.forEach((points, n) => item(`Mask ${n + 1}: ${points.length} corners`, () => masks.splice(n, 1)));
  for (const [name, zone] of Object.entries(zones)) {
    const area = zone.min_area === null ? "" : `, minimum area ${zone.min_area}`;
    item(`Zone ${name}: ${zone.points.length} corners${area}`, () => delete zones[name]);
  }
  if (items.length === 0) {
    const li = document.createElement("li");
    li.textContent = "No zones or masks: motion counts anywhere in the picture.";
    items.push(li);
  }
  $("settings-list").replaceChildren(...items);
}

function snapped(value) {
  const v = Math.min(1, Math.max(0, value));
  if (v < SNAP) return 0;
  if (v > 1 - SNAP) return 1;
  return Math.round(v * 10000) / 10000;
}

overlay.addEventListener("click", (event) => {
  if (!isOwner()) return;
  const box = overlay.getBoundingClientRect();
  draft.push([snapped((event.clientX - box.left) / box.width), snapped((event.clientY - box.top) / box.height)]);
  draw();
});

// The typed corners: "x,y x,y ...", redrawn as they are typed; a corner that is not two numbers is left out.
pointsField.addEventListener("input", () => {
  draft = pointsField.value
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((pair) => pair.split(",").map(Number))
    .filter((p) => p.length === 2 && p.every((n) => Number.isFinite(n) && n >= 0 && n <= 1));
  draw();
});

$("settings-undo").addEventListener("click", () => {
  draft.pop();
  draw();
});

$("settings-clear").addEventListener("click", () => {
  draft = [];
  draw();
});

$("settings-add").addEventListener("click", () => {
  message.textContent = "";
  if (draft.length < 3) {
    message.textContent = "A shape needs at least 3 corners: click on the picture or type them.";
    return;
  }
  if ($("settings-kind").value === "zone") {
    const name = $("settings-zone-name").value.trim();
    if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name)) {
      message.textContent = "Name the zone: lower-case letters, digits, - and _, starting with a letter or digit.";
      return;
    }
    const area = $("settings-zone-area").value;
    zones[name] = { points: draft, min_area: area === "" ? null : Number(area) };
  } else {
    masks.push(draft);
  }
  draft = [];
  draw();
  message.textContent = "Added; save to put it in force.";
});

$("settings-kind").addEventListener("change", () => {
  const zone = $("settings-kind").value === "zone";
  $("settings-zone-name").required = zone;
});

// -- saving

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  message.textContent = "";
  if (draft.length) {
    message.textContent = "Add the shape you are drawing, or clear it, before saving.";
    return;
  }
  const changes = { zones, masks };
  for (const key of NUMBERS) {
    const text = form.elements[key].value.trim();
    if (text === "" && key !== "retain_days") {
      message.textContent = `${form.elements[key].labels[0].firstChild.textContent.trim()}: give a number.`;
      form.elements[key].focus();
      return;
    }
    changes[key] = text === "" ? null : Number(text);
  }
  const camera = shown;
  const path = `/api/cameras/${encodeURIComponent(camera)}/settings`;
  try {
    const answer = await withFreshPassword(() => request("PATCH", path, changes));
    if (answer === null) {
      message.textContent = "Not saved: the password was not confirmed.";
      return;
    }
    await load(camera);
    message.textContent = "Saved; the camera uses the new settings now.";
  } catch (err) {
    message.textContent = err instanceof ApiError ? `Not saved: ${err.message}` : String(err);
  }
});

// The editor takes the picture's own shape, so a point's fractions are the same on the picture and in the hub.
snapshot.addEventListener("load", () => {
  snapshot.parentElement.style.aspectRatio = `${snapshot.naturalWidth} / ${snapshot.naturalHeight}`;
});

$("settings-reload").addEventListener("click", () => shown && load(shown));
picker.addEventListener("change", () => load(picker.value));
document.addEventListener("camhub:page", refresh);
document.addEventListener("camhub:me", () => {
  shown = null;
  refresh();
});
refresh();
