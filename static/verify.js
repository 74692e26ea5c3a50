// The verification portal: nothing happens until "Start verification" is pressed; then one
// approve/decline step, then back to return_url. The start's resumeToken is kept in this tab's
// sessionStorage: a reload resumes, and only this tab can complete. Ids: see verify.html.
"use strict";

(function () {
  const main = document.getElementById("main");
  const status = document.getElementById("status");
  const begin = document.getElementById("begin");
  const start = document.getElementById("start");
  const decision = document.getElementById("decision");
  const approve = document.getElementById("approve");
  const decline = document.getElementById("decline");
  const next = document.getElementById("continue");
  const id = new URLSearchParams(window.location.search).get("verification_id") || "";
  const storageKey = `qrstream.verify.${id}`;
  let returnUrl = null;
  let resumeToken = null;

  function show(state, text) {
    main.dataset.state = state;
    status.textContent = text;
  }

  // sessionStorage can be missing or refuse writes (private modes, storage off): then a reload
  // simply cannot resume, which is the safe way round.
  const store = {
    get() {
      try { return window.sessionStorage.getItem(storageKey); } catch (_) { return null; }
    },
    set(value) {
      try { window.sessionStorage.setItem(storageKey, value); } catch (_) { /* not kept */ }
    },
    clear() {
      try { window.sessionStorage.removeItem(storageKey); } catch (_) { /* nothing kept */ }
    },
  };

  function safeUrl(url) {
    try {
      const parsed = new URL(url);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  // One answer of the API turned into the page's state; the body when the request succeeded.
  async function call(action, body) {
    let response;
    try {
      response = await fetch(`/api/verification/${encodeURIComponent(id)}/${action}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body || {}),
      });
    } catch (_) {
      show("error", "The server cannot be reached. Check your connection and reload this page.");
      return null;
    }
    const data = await response.json().catch(() => ({}));
    if (response.ok) return data;
    store.clear();
    if (response.status === 404) {
      show("unknown", "This verification link is not valid. Ask for a new one.");
    } else if (response.status === 403 || (response.status === 409 && data.current_status === "in_progress")) {
      show("elsewhere", "This verification was started in another browser. It can be finished only there.");
    } else if (response.status === 409 && data.current_status === "expired") {
      show("expired", "This verification link has expired. Ask for a new one.");
    } else if (response.status === 409) {
      const what = { completed: "has already been completed",
                     failed: "has already been declined" }[data.current_status] || "has already been used";
      show("used", `This verification ${what}. The link can be used only once.`);
    } else {
      show("error", "Something went wrong. Reload this page to try again.");
    }
    return null;
  }

  async function finish(result) {
    approve.disabled = decline.disabled = true;
    show("working", "Sending your answer…");
    const data = await call("complete", { result: result, resumeToken: resumeToken });
    decision.hidden = true;
    if (!data) return;
    store.clear();
    const done = data.status === "completed" ? "Verification approved." : "Verification declined.";
    const target = returnUrl && safeUrl(returnUrl);
    if (target) {
      show("done", `${done} Taking you back…`);
      next.href = target;
      next.hidden = false;
      window.location.assign(target);
    } else {
      show("done", `${done} You can close this page.`);
    }
  }

  // Start (or, with this tab's token, resume): then show the decision step.
  async function started(body, resumed) {
    const data = await call("start", body);
    begin.hidden = true;
    if (!data) return;
    resumeToken = data.resumeToken;
    store.set(resumeToken);
    returnUrl = data.return_url || null;
    show("ready", resumed ? "Verification resumed. Choose Approve or Decline."
                          : "Verification started. Choose Approve or Decline.");
    decision.hidden = false;
    approve.focus();
  }

  function load() {
    if (!id) {
      show("missing", "This link has no verification id. Open the full link you were sent.");
      return;
    }
    const kept = store.get();
    if (kept) {
      // This tab pressed Start before (a reload): resuming changes nothing on the server.
      show("working", "Resuming the verification…");
      started({ resumeToken: kept }, true);
      return;
    }
    show("idle", "Press Start verification when you are ready.");
    begin.hidden = false;
  }

  start.addEventListener("click", () => {
    start.disabled = true;
    show("working", "Starting the verification…");
    started({}, false);
  });
  approve.addEventListener("click", () => finish("approved"));
  decline.addEventListener("click", () => finish("declined"));
  load();
})();
