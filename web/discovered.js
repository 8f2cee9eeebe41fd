// Devices discovery found on the network, for the household; owners adopt or ignore them here.
// Names, makers and models come from the network: they are untrusted and only ever set as textContent.
// Adopting needs the owner's password typed now: the form confirms it with /api/auth/reauth first.
// `post` is status.js's (loaded first).
"use strict";

const DISCOVERED_REFRESH_MS = 5000;
let household = false;
let canAdopt = false;

async function fetchDevices() {
  const response = await fetch("/api/discovered", { cache: "no-store" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

function describe(device) {
  const what = [device.maker, device.model].filter(Boolean).join(" ") || device.integrations.join(", ");
  return `${what} at ${device.address || "no address"} (${device.kinds.join(", ")})`;
}

function why(device) {
  if (device.camera) return `Camera ${device.camera}${device.configured ? " (from the config file)" : ""}`;
  if (device.adoptable) return "Waiting for adoption";
  return device.why_not || "";
}

async function adopt(device, form) {
  const message = form.querySelector(".message");
  message.textContent = "Testing the streams…";
  const body = { name: form.name.value.trim() };
  for (const key of ["username", "password", "record", "detect"]) {
    const value = form[key].value.trim();
    if (value) body[key] = value;
  }
  try {
    await post("/api/auth/reauth", { password: form.owner_password.value });
    form.owner_password.value = "";
    const answer = await post(`/api/discovered/${encodeURIComponent(device.id)}/adopt`, body);
    message.textContent = `Adopted as ${answer.camera}; it is recording.`;
    // Done with the form: let the refresh replace the item, which then shows the device as adopted.
    if (form.contains(document.activeElement)) document.activeElement.blur();
    await refreshDiscovered();
  } catch (err) {
    message.textContent = err.message;
  }
}

function deviceItem(device) {
  const node = document.getElementById("device-item").content.firstElementChild.cloneNode(true);
  node.dataset.id = device.id;
  node.querySelector(".device-name").textContent = device.name || "(no name)";
  node.querySelector(".device-state").textContent = device.state;
  node.querySelector(".device-what").textContent = describe(device);
  node.querySelector(".device-why").textContent = why(device);
  const form = node.querySelector(".adopt");
  if (canAdopt && device.adoptable) {
    form.hidden = false;
    form.record.value = device.record || "";
    form.detect.value = device.detect || "";
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      adopt(device, form);
    });
    form.querySelector(".ignore").addEventListener("click", async () => {
      try {
        await post(`/api/discovered/${encodeURIComponent(device.id)}/ignore`, { ignored: true });
        await refreshDiscovered();
      } catch (err) {
        form.querySelector(".message").textContent = err.message;
      }
    });
  }
  return node;
}

async function refreshDiscovered() {
  if (!household) return;
  try {
    const devices = await fetchDevices();
    const list = document.getElementById("devices");
    // Keep an item whose form is being filled in; replace the others.
    const editing = [...list.children].filter((li) => li.contains(document.activeElement));
    const keep = new Set(editing.map((li) => li.dataset.id));
    const items = devices.map((d) => (keep.has(d.id) ? editing.find((li) => li.dataset.id === d.id) : deviceItem(d)));
    // Not replaceChildren: taking the kept item out of the page, even to put it back, loses its focus.
    for (const li of [...list.children]) if (!items.includes(li)) li.remove();
    items.forEach((item, i) => {
      if (list.children[i] !== item) list.insertBefore(item, list.children[i] || null);
    });
    if (!devices.length) list.innerHTML = "<li class=\"empty\">Nothing found yet.</li>";
  } catch {
    // the hub is unreachable, has discovery off, or the session ended; status.js shows that
  }
}

document.addEventListener("camhub:me", (event) => {
  const me = event.detail;
  household = Boolean(me && (me.role === "owner" || me.role === "member") && !me.must_change_password);
  canAdopt = Boolean(household && me.role === "owner");
  document.getElementById("discovered").hidden = !household;
  if (household) refreshDiscovered();
});

setInterval(refreshDiscovered, DISCOVERED_REFRESH_MS);
