// The share-link page (/share#<token>): what a released package holds (cameras, window, each file with its
// span, size and hash) and what the link still allows, then the download. The token rides in the
// address's #fragment, which the browser never sends; looking costs no download, downloading costs one.

import { getJson, text, when } from "./api.js";

const TOKEN = /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/;
const $ = (id) => document.getElementById(id);

function size(bytes) {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function tokenOf(value) {
  // A pasted link may be the page's, the download's, or the bare token.
  const last = value.trim().split(/[#/]/).pop();
  return TOKEN.test(last) ? last : null;
}

function problem(message) {
  $("share-status").textContent = message;
  $("share-status").classList.add("problem");
  $("share-facts").hidden = true;
  $("share-download").hidden = true;
  $("share-files").replaceChildren();
}

async function load() {
  const token = tokenOf(location.hash.replace(/^#/, ""));
  $("share-form").hidden = token !== null;
  if (token === null) return problem("Paste the share link you were given.");
  let answer;
  try {
    answer = await getJson(`/api/share/${token}/contents`);
  } catch (err) {
    return problem(err.key === "unreachable" ? "Cannot reach the hub." : err.message);
  }
  $("share-status").classList.remove("problem");
  $("share-status").textContent =
    `${answer.files.length} clip(s), ${size(answer.package_bytes)}; ` +
    `${answer.downloads_left} of ${answer.max_downloads} downloads left, until ${when(answer.expires_s)}.`;
  const facts = $("share-facts");
  const scope = answer.scope;
  facts.replaceChildren(
    text("dt", "Cameras"),
    text("dd", scope.cameras.join(", ")),
    text("dt", "Window"),
    text("dd", `${when(scope.start_s)} to ${when(scope.end_s)}`),
    text("dt", "Package"),
    text("dd", answer.export_id),
  );
  facts.hidden = false;
  $("share-files").replaceChildren(
    ...answer.files.map((file) => {
      const li = document.createElement("li");
      const cut = file.trimmed ? ", cut to the window" : "";
      li.append(
        text("p", `${file.camera}: ${when(file.start_ms / 1000)} to ${when(file.end_ms / 1000)}${cut}`),
        text("p", `${file.name}, ${size(file.bytes)}, SHA-256 ${file.sha256}`, "hint"),
      );
      return li;
    }),
  );
  const download = $("share-download");
  download.href = `/api/share/${token}`;
  download.hidden = answer.downloads_left <= 0;
}

$("share-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = tokenOf(event.target.elements.link.value);
  if (token === null) return problem("That is not a share link of this hub.");
  location.hash = token;
});
// After a download starts, show the downloads left again (the hub counts it before the first byte).
$("share-download").addEventListener("click", () => setTimeout(load, 2000));
window.addEventListener("hashchange", load);
load();
