// The operator console (CONTRACT §7): sign in with the admin key (kept in sessionStorage only),
// then instances, cards, verifications and failed webhooks, live through /admin/events.

import { ApiError, ServerAway, adminKey, call, hooks } from "/static/console-api.js";
import { cardsView } from "/static/console-cards.js";
import { $, say } from "/static/console-dom.js";
import { EventStream } from "/static/console-events.js";
import { instancesView } from "/static/console-instances.js";
import { verificationsView, webhooksView } from "/static/console-lists.js";

const signInForm = $("sign-in");
const keyInput = $("admin-key");
const keyError = $("admin-key-error");
const consoleBox = $("console");
const signOutButton = $("sign-out");
const connection = $("connection");
const offline = $("offline");

const views = {
  instances: instancesView(),
  cards: cardsView(),
  verifications: verificationsView(),
  webhooks: webhooksView(),
};

let signedIn = false;
let wasLive = false;
let missedEvents = false; // the stream was down: reload the lists when it is back

function setConnection(state, text) {
  connection.dataset.state = state;
  connection.textContent = text;
}

async function loadAll() {
  const results = await Promise.allSettled(Object.values(views).map((view) => view.load()));
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
}

const stream = new EventStream({
  onEvent(event) {
    for (const view of Object.values(views)) view.onEvent(event);
  },
  onState(state, detail) {
    if (!signedIn) return;
    if (state === "live") {
      setConnection("live", "Live");
      offline.hidden = true;
      if (missedEvents) {
        missedEvents = false;
        loadAll()
          .then(() => say("Connected again; the lists are up to date.", "done"))
          .catch(() => {});
      }
      wasLive = true;
    } else if (state === "connecting") {
      setConnection("connecting", "Connecting…");
    } else if (state === "reconnecting") {
      if (wasLive) missedEvents = true;
      setConnection("reconnecting", `Reconnecting in ${detail} s`);
    }
  },
});

function showSignIn(message) {
  signedIn = false;
  consoleBox.hidden = true;
  signOutButton.hidden = true;
  signInForm.hidden = false;
  offline.hidden = true;
  setConnection("off", "Not signed in");
  keyInput.value = "";
  if (message) {
    keyError.textContent = message;
    keyError.hidden = false;
    keyInput.setAttribute("aria-invalid", "true");
  }
  keyInput.focus();
}

function signOut(message, statusText = "Signed out.") {
  stream.stop();
  adminKey.clear();
  wasLive = false;
  missedEvents = false;
  for (const view of Object.values(views)) view.reset();
  showSignIn(message);
  say(statusText, message ? "error" : "done");
}

async function enter() {
  signedIn = true;
  signInForm.hidden = true;
  keyError.hidden = true;
  keyInput.removeAttribute("aria-invalid");
  consoleBox.hidden = false;
  signOutButton.hidden = false;
  showView("instances", { focus: false });
  $("console-title").focus();
  stream.start();
  await loadAll();
}

async function signIn(event) {
  event.preventDefault();
  keyError.hidden = true;
  keyInput.removeAttribute("aria-invalid");
  const key = keyInput.value.trim();
  if (!key) {
    showSignIn("Enter the admin key.");
    return;
  }
  say("Checking the admin key…", "working");
  adminKey.set(key);
  try {
    await call("GET", "/admin/instances?limit=1");
  } catch (error) {
    adminKey.clear();
    if (error instanceof ApiError && error.status === 401) {
      showSignIn("That admin key is wrong.");
      say("Not signed in: that admin key is wrong.", "error");
    } else if (error instanceof ApiError && error.status === 429) {
      showSignIn("Too many wrong keys from here; wait a little and try again.");
      say("Not signed in: too many wrong keys.", "error");
    } else if (error instanceof ServerAway) {
      showSignIn("The server is not answering; try again in a moment.");
      say("Not signed in: the server is not answering.", "error");
    } else {
      showSignIn(error.message);
      say(`Not signed in: ${error.message}`, "error");
    }
    return;
  }
  keyInput.value = "";
  say("Signed in.", "done");
  try {
    await enter();
  } catch {
    // a list that failed to load says so itself; the stream reconnects on its own
  }
}

function showView(name, { focus = true } = {}) {
  for (const button of document.querySelectorAll("nav.tabs button")) {
    if (button.dataset.view === name) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  for (const key of Object.keys(views)) $(`view-${key}`).hidden = key !== name;
  if (focus) $(`${name}-title`).focus();
}

hooks.unauthorized = () => {
  if (signedIn) signOut("The admin key is no longer accepted; sign in again.", "Signed out: the admin key was refused.");
};
hooks.away = () => {
  if (!signedIn) return;
  offline.hidden = false;
  setConnection("away", "Server away");
};
hooks.back = () => {
  if (!offline.hidden) {
    offline.hidden = true;
    stream.reconnectNow();
  }
};

signInForm.addEventListener("submit", signIn);
signOutButton.addEventListener("click", () => signOut(null));
for (const button of document.querySelectorAll("nav.tabs button")) {
  button.addEventListener("click", () => showView(button.dataset.view));
}

// A reload of the tab keeps the session (sessionStorage); a new tab signs in afresh.
if (adminKey.get()) {
  call("GET", "/admin/instances?limit=1")
    .then(() => enter())
    .catch((error) => {
      if (error instanceof ApiError && error.status === 401) signOut("The saved admin key is wrong; sign in again.", "Not signed in.");
      else if (error instanceof ServerAway) {
        showSignIn("The server is not answering; sign in again when it is back.");
        adminKey.clear();
      }
    });
} else {
  showSignIn(null);
}
