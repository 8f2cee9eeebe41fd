// The Audit page (#audit): whether the log verifies (/api/audit/verify), the latest signed checkpoint with
// the command a witness runs (docs/audit.md, Witnessing), the recent entries a page at a time
// (/api/audit/entries), and the transparency report (/api/transparency) as a bar chart this module draws
// in SVG and a table of the same numbers. Owners, members and custodians read it; the hub decides which
// entries each may see.

import { getJson, me } from "/static/api.js";
import { drawReport } from "/static/transparency.js";

const section = document.getElementById("audit");
const verifyLine = section.querySelector(".aud-verify");
const checkpointBox = section.querySelector(".aud-checkpoint");
const witnessBox = section.querySelector(".aud-witness");
const copyMessage = section.querySelector(".aud-copy-message");
const entryRows = section.querySelector(".aud-entries tbody");
const newer = section.querySelector(".aud-newer");
const older = section.querySelector(".aud-older");
const pageLine = section.querySelector(".aud-page");
const reportMessage = section.querySelector(".aud-report-message");

const PAGE = 25;
// `before` of each page shown so far (null: the newest page), so Newer can go back.
let pages = [null];

const mayRead = () => me !== null && !me.must_change_password && ["owner", "member", "custodian"].includes(me.role);

async function getText(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.text();
}

async function showVerify() {
  verifyLine.textContent = "Checking…";
  delete verifyLine.dataset.verified;
  const result = await getJson("/api/audit/verify");
  verifyLine.dataset.verified = String(result.verified);
  verifyLine.dataset.size = result.size === null ? "" : String(result.size);
  verifyLine.textContent = result.verified
    ? `Verified: all ${result.size} entries and ${result.checkpoints} signed checkpoints check out ` +
      `(every leaf hash, root and signature), as of ${new Date(result.checked_s * 1000).toLocaleString()}.`
    : `Verification FAILED: ${result.message}`;
}

// The witness's command, per docs/audit.md: it pins the key the page shows, so a swapped key is refused.
async function showCheckpoint() {
  const [note, key] = await Promise.all([getText("/api/audit/checkpoint"), getText("/api/audit/key")]);
  checkpointBox.textContent = note;
  witnessBox.textContent =
    `camhub audit witness --url ${location.origin} --state ~/camhub-witness.json --key '${key.trim()}'`;
}

for (const button of section.querySelectorAll(".aud-copy")) {
  button.addEventListener("click", async () => {
    const box = section.querySelector(`.${button.dataset.copy}`);
    try {
      await navigator.clipboard.writeText(box.textContent);
      copyMessage.textContent = "Copied.";
    } catch {
      // No clipboard (a page not served over HTTPS or localhost): select it for the visitor to copy.
      getSelection().selectAllChildren(box);
      copyMessage.textContent = "Selected: copy it with Ctrl+C (or Cmd+C).";
    }
  });
}

// Long values (clip lists, hashes) are cut short here; the whole entry is one proof away (camhub audit proof).
const LONGEST = 160;
function details(fields) {
  return Object.entries(fields)
    .map(([name, value]) => {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      return `${name}: ${text.length > LONGEST ? `${text.slice(0, LONGEST)}…` : text}`;
    })
    .join("; ");
}

function entryRow(entry) {
  const row = document.createElement("tr");
  row.dataset.index = String(entry.index);
  const cells = [
    String(entry.index),
    new Date(entry.time_ms).toLocaleString(),
    entry.event,
    entry.actor,
    details(entry.fields),
  ];
  for (const value of cells) {
    const cell = document.createElement("td");
    cell.textContent = value;
    row.append(cell);
  }
  return row;
}

let nextBefore = null;

async function showEntries() {
  const before = pages[pages.length - 1];
  const query = before === null ? `?limit=${PAGE}` : `?limit=${PAGE}&before=${before}`;
  const page = await getJson(`/api/audit/entries${query}`);
  entryRows.replaceChildren(...page.entries.map(entryRow));
  nextBefore = page.next_before;
  const top = before === null ? page.size : before;
  pageLine.textContent = `Entries ${page.next_before ?? 0} to ${top - 1} of ${page.size}` +
    (page.entries.length < top - (page.next_before ?? 0) ? " (some are not yours to read)" : "");
  older.disabled = nextBefore === null;
  newer.disabled = pages.length === 1;
}

older.addEventListener("click", () => {
  if (nextBefore === null) return;
  pages.push(nextBefore);
  showEntries().catch((err) => (pageLine.textContent = err.message));
});
newer.addEventListener("click", () => {
  if (pages.length > 1) pages.pop();
  showEntries().catch((err) => (pageLine.textContent = err.message));
});

async function showReport() {
  reportMessage.textContent = "";
  try {
    const report = await getJson("/api/transparency");
    drawReport(report, section.querySelector(".aud-chart"), section.querySelector(".aud-legend"),
      section.querySelector(".aud-report"));
    if (report.months.length === 0) reportMessage.textContent = "Nothing to report yet.";
  } catch (err) {
    reportMessage.textContent = err.message; // custodians are not shown the household's report
  }
}

async function show() {
  const allowed = mayRead();
  section.querySelector(".aud-who").hidden = allowed;
  section.querySelector(".aud-body").hidden = !allowed;
  if (!allowed || document.body.dataset.page !== "audit") return;
  pages = [null];
  // Each part says its own failure where it would have shown; the others still show.
  await Promise.all([
    showVerify().catch((err) => (verifyLine.textContent = err.message)),
    showCheckpoint().catch((err) => (checkpointBox.textContent = err.message)),
    showEntries().catch((err) => (pageLine.textContent = err.message)),
    showReport(),
  ]);
  section.dataset.loaded = String(Date.now());
}

document.addEventListener("camhub:me", show);
document.addEventListener("camhub:page", show);
show();
