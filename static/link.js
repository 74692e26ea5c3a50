// The phone's pairing page: POST /link/<code> {"phone"} or POST /link {"code", "phone"}.
// Element ids: #link-form, #phone, #code (on /link only), #submit, #status.
"use strict";

(function () {
  const form = document.getElementById("link-form");
  const phone = document.getElementById("phone");
  const code = document.getElementById("code");
  const submit = document.getElementById("submit");
  const status = document.getElementById("status");
  // /link/<code>: the code is in the path, so the code field goes away.
  const match = window.location.pathname.match(/^\/link\/([^/]+)$/);
  const linkCode = match ? decodeURIComponent(match[1]) : null;
  if (linkCode !== null) {
    const field = document.getElementById("code-field");
    if (field) field.remove();
    document.getElementById("intro-code").hidden = true;
    document.getElementById("intro-qr").hidden = false;
  }

  function say(state, text) {
    status.dataset.state = state;
    status.textContent = text;
    phone.setAttribute("aria-invalid", String(state === "invalid"));
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const digits = phone.value.replace(/[\s().+-]/g, "");
    if (!/^[0-9]{7,15}$/.test(digits)) {
      say("invalid", "Enter your phone number: 7 to 15 digits, with the country code.");
      phone.focus();
      return;
    }
    const body = { phone: digits };
    let url = window.location.pathname;
    if (linkCode === null) {
      body.code = code.value.trim();
      url = "/link";
    }
    submit.disabled = true;
    say("working", "Linking…");
    try {
      const resp = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const data = await resp.json().catch(function () { return {}; });
      if (resp.ok && data.linked) {
        say("linked", "Linked as +" + String(data.wid).split("@")[0] + ". You can close this page.");
        form.hidden = true;
        return;
      }
      if (resp.status === 410) {
        say("expired", linkCode === null
          ? "This pairing code is expired, used or unknown. Ask for a new one."
          : "This QR code has expired. Scan the new one on the screen.");
      } else if (resp.status === 400) {
        say("invalid", data.error || "Check the phone number.");
      } else {
        say("error", data.error || "Something went wrong. Try again.");
      }
    } catch (err) {
      say("error", "No connection. Try again.");
    } finally {
      submit.disabled = false;
    }
  });
})();
