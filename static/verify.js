// The verification portal: start on load, one approve/decline step, then back to return_url.
// Element ids are documented at the top of verify.html.
"use strict";

(function () {
  const main = document.getElementById("main");
  const status = document.getElementById("status");
  const decision = document.getElementById("decision");
  const approve = document.getElementById("approve");
  const decline = document.getElementById("decline");
  const next = document.getElementById("continue");
  const id = new URLSearchParams(window.location.search).get("verification_id") || "";
  let returnUrl = null;

  function show(state, text) {
    main.dataset.state = state;
    status.textContent = text;
  }

  function safeUrl(url) {
    try {
      const parsed = new URL(url);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  // One answer of the API turned into the page's state; true when the request succeeded.
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
    if (response.status === 404) {
      show("unknown", "This verification link is not valid. Ask for a new one.");
    } else if (response.status === 409 && data.current_status === "expired") {
      show("expired", "This verification link has expired. Ask for a new one.");
    } else if (response.status === 409) {
      const what = { in_progress: "is already in progress elsewhere",
                     completed: "has already been completed",
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
    const data = await call("complete", { result: result });
    decision.hidden = true;
    if (!data) return;
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

  async function begin() {
    if (!id) {
      show("missing", "This link has no verification id. Open the full link you were sent.");
      return;
    }
    const data = await call("start");
    if (!data) return;
    returnUrl = data.return_url || null;
    show("ready", "Verification started. Choose Approve or Decline.");
    decision.hidden = false;
    approve.focus();
  }

  approve.addEventListener("click", () => finish("approved"));
  decline.addEventListener("click", () => finish("declined"));
  begin();
})();
