// The one way the dashboard's pages talk to the hub: JSON in and out, errors as ApiError with the hub's
// message, and the fresh-password prompt. Owner actions that change something need the password typed
// within the last five minutes; when the hub answers reauth_required, `withFreshPassword` shows the
// shared dialog, confirms the password with /api/auth/reauth and runs the action once more.

export class ApiError extends Error {
  constructor(status, key, message) {
    super(message);
    this.status = status;
    this.key = key; // the hub's error key ("reauth_required", "invalid", ...), or null
  }
}

// `token`, when given, is sent as Authorization: Bearer (the requester's page has no login cookie).
export async function request(method, path, body, { token } = {}) {
  const init = { method, cache: "no-store", headers: {} };
  if (token !== undefined) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "unreachable", "Cannot reach the hub");
  }
  const answer = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const key = answer && typeof answer.error === "string" ? answer.error : null;
    const message = answer && typeof answer.message === "string" ? answer.message : `HTTP ${response.status}`;
    throw new ApiError(response.status, key, message);
  }
  return answer;
}

export const getJson = (path) => request("GET", path);

// Run `action` (an async function calling `request`); if the hub wants the password again, ask for it.
// Resolves with the action's answer, or null when the owner closes the dialog without confirming.
export async function withFreshPassword(action) {
  try {
    return await action();
  } catch (err) {
    if (!(err instanceof ApiError) || err.key !== "reauth_required") throw err;
  }
  if (!(await askPassword())) return null;
  return action();
}

function askPassword() {
  const dialog = document.getElementById("password-dialog");
  const form = dialog.querySelector("form");
  const message = dialog.querySelector(".message");
  message.textContent = "";
  form.reset();
  return new Promise((resolve) => {
    const finish = (confirmed) => {
      form.removeEventListener("submit", onSubmit);
      dialog.removeEventListener("cancel", onCancel);
      dialog.close();
      resolve(confirmed);
    };
    const onCancel = () => finish(false);
    const onSubmit = async (event) => {
      event.preventDefault();
      if (event.submitter && event.submitter.value === "cancel") return finish(false);
      try {
        await request("POST", "/api/auth/reauth", { password: form.elements.password.value });
        finish(true);
      } catch (err) {
        message.textContent = err.message;
      }
    };
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
  });
}

// Who is logged in: the answer of /api/auth/me, or null. status.js announces changes with "camhub:me".
export let me = null;
document.addEventListener("camhub:me", (event) => {
  me = event.detail;
});

export const isOwner = () => me !== null && !me.must_change_password && me.role === "owner";

export function when(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleString();
}

// An element holding `value` as text (never markup: names and purposes come from users), with an
// optional class.
export function text(tag, value, className) {
  const node = document.createElement(tag);
  node.textContent = value;
  if (className) node.className = className;
  return node;
}

// datetime-local inputs show local time; the hub speaks Unix seconds.
export function localInput(seconds) {
  const d = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

// One camera's labelled checkbox, named "cameras" as the forms that ask for footage send it.
export function cameraCheckbox(name, className) {
  const label = document.createElement("label");
  if (className) label.className = className;
  const box = document.createElement("input");
  box.type = "checkbox";
  box.name = "cameras";
  box.value = name;
  label.append(box, ` ${name}`);
  return label;
}
