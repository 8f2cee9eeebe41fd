// The storage page (#storage): the data folder's disk, the retention limits the hub runs with, the
// oldest clip and when retention may delete it, clips per camera, and (owners) what each hold keeps.
// Read-only: one GET /api/storage, again on opening the page, on the Refresh button and when a clip
// is saved (web/events.js). A member sees only their cameras and no holds, as the hub answers.
import { ApiError, getJson, when } from "./api.js";
import { onHubEvent, user, userKnown } from "./events.js";

const shown = document.getElementById("storage-shown");
const refused = document.getElementById("storage-refused");
const REFUSED = refused.textContent;

export function bytes(n) {
  if (n == null) return "no limit";
  const units = ["bytes", "kB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

const days = (d) => (d === 1 ? "1 day" : `${d} days`);

function fact(list, term, value) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.append(dt, dd);
}

function render(storage) {
  const { disk, retention } = storage;
  const usedShare = disk.total > 0 ? disk.used / disk.total : 0;
  document.getElementById("storage-disk-text").textContent =
    `${bytes(disk.used)} used of ${bytes(disk.total)}; ${bytes(disk.free)} free.`;
  const bar = document.getElementById("storage-disk-bar");
  bar.setAttribute("aria-label", `${Math.round(usedShare * 100)} % of the disk used`);
  bar.querySelector(".used").style.width = `${(usedShare * 100).toFixed(1)}%`;

  const facts = document.getElementById("storage-retention");
  facts.replaceChildren();
  fact(facts, "Clips kept for", `${days(retention.days)} (unless a camera has its own limit)`);
  fact(facts, "Budget for clips", bytes(retention.max_bytes));
  fact(facts, "Free space kept", bytes(retention.min_free_bytes));
  fact(facts, "Checked every", `${Math.round(retention.interval_s)} s`);
  fact(facts, "Deleted since start", String(retention.deleted_since_start));

  const oldest = storage.oldest_clip;
  const oldestText = document.getElementById("storage-oldest");
  if (oldest === null) oldestText.textContent = "No clips yet.";
  else {
    const fate = oldest.held ? "a hold keeps it" : `retention may delete it from ${when(oldest.due_s)}`;
    oldestText.textContent = `Oldest clip: ${oldest.camera}, ${when(oldest.start)} (${bytes(oldest.bytes)}); ${fate}.`;
  }

  const rows = storage.cameras.map((camera) => {
    const tr = document.createElement("tr");
    for (const text of [
      camera.camera,
      String(camera.clips),
      bytes(camera.bytes),
      days(camera.retain_days),
      camera.oldest_start != null ? when(camera.oldest_start) : "none",
    ]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  document.querySelector("#storage-cameras tbody").replaceChildren(...rows);

  const holdsPart = document.getElementById("storage-holds-part");
  holdsPart.hidden = storage.holds === undefined;
  if (storage.holds !== undefined) {
    const items = storage.holds.map((hold) => {
      const li = document.createElement("li");
      li.className = "storage-hold";
      li.dataset.hold = hold.id;
      li.textContent =
        `${hold.cameras.join(", ")}, ${when(hold.start_s)} to ${when(hold.end_s)}: keeps ${hold.clips} clips ` +
        `(${bytes(hold.bytes)}) until ${when(hold.expires_s)} (${hold.basis})`;
      return li;
    });
    if (items.length === 0) {
      const none = document.createElement("li");
      none.textContent = "No holds: retention applies to every clip.";
      items.push(none);
    }
    document.getElementById("storage-holds").replaceChildren(...items);
  }
}

async function load() {
  const me = user();
  const household = me !== null && !me.must_change_password && (me.role === "owner" || me.role === "member");
  refused.textContent = REFUSED;
  shown.hidden = !household;
  refused.hidden = household;
  if (!household) return;
  try {
    render(await getJson("/api/storage"));
  } catch (err) {
    refused.hidden = false;
    refused.textContent = `Cannot load the storage: ${err instanceof ApiError ? err.message : err}`;
  }
}

const onPage = () => document.body.dataset.page === "storage";
document.addEventListener("camhub:me", () => onPage() && load());
document.addEventListener("camhub:page", (event) => event.detail === "storage" && load());
document.getElementById("storage-refresh").addEventListener("click", load);
onHubEvent("clip_saved", () => onPage() && load());
userKnown.then(() => onPage() && load());
