// The pairing page: credentials from the form or the URL fragment, the live QR over the
// instance's `scanqrcode` websocket, a countdown to the next code, reconnection with
// capped, jittered exponential backoff, and the outcome in words.
// Served at /p/<ticket> (data-mode="link" on <main>) it is a pairing link's page: it never
// has the instance's token, only watches `/p/<ticket>/scanqrcode`, and offers nothing else.
"use strict";

(() => {
  const BACKOFF_BASE_S = 1;
  const BACKOFF_CAP_S = 30;
  const TICK_MS = 250;
  // Two frames closer than this are not a refresh period (the server's minimum is 0.5 s).
  const MIN_PERIOD_S = 0.4;

  const $ = (id) => document.getElementById(id);
  const main = $("main");
  const statusLine = $("status");
  const form = $("credentials");
  const idInput = $("instance-id");
  const tokenInput = $("instance-token");
  const pairing = $("pairing");
  const qrBox = $("qr-box");
  const qr = $("qr");
  const countdown = $("countdown");
  const countdownBar = $("countdown-bar");
  const webhooks = $("webhooks");
  const shareBox = $("share");
  const shareUrl = $("share-url");
  const shareNote = $("share-note");
  const linkMode = main.dataset.mode === "link";
  const LINK_EXPIRED = "Pairing link expired"; // the server's word for a dead ticket
  const buttons = {
    newQr: $("new-qr"),
    logout: $("logout"),
    reconnectNow: $("reconnect-now"),
    shareLink: $("share-link"),
    copyLink: $("copy-link"),
    change: $("change"),
  };
  // What a pairing link's page never offers: it holds no credentials.
  const holderOnly = [buttons.logout, buttons.change, buttons.shareLink, buttons.copyLink];

  let creds = null; // {id, token}: kept in memory only, never in storage or the address bar
  let socket = null;
  let session = 0; // bumped by every (re)start and stop, so stale callbacks do nothing
  let failures = 0; // failed connects in a row, for the backoff
  let finished = false; // a final message arrived: its 1000 close must not reconnect
  let period = Number(main.dataset.refreshS) || 20; // seconds; learned from the frames
  let learned = false;
  let frames = 0; // frames seen on this connection
  let lastFrameAt = 0;
  let nextFrameAt = 0;
  let retryAt = 0;
  let ticker = 0;
  let retryTimer = 0;

  // ---- small helpers -------------------------------------------------------------

  const apiUrl = (method) =>
    `/waInstance${encodeURIComponent(creds.id)}/${method}/${encodeURIComponent(creds.token)}`;

  const socketUrl = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const path = linkMode ? `${location.pathname}/scanqrcode` : apiUrl("scanqrcode");
    return `${scheme}://${location.host}${path}`;
  };

  function say(state, text) {
    main.dataset.state = state;
    if (statusLine.textContent !== text) statusLine.textContent = text;
  }

  function show(...visible) {
    if (linkMode) {
      visible = visible.filter((button) => !holderOnly.includes(button));
    } else {
      visible.push(buttons.shareLink);
      if (!shareBox.hidden) visible.push(buttons.copyLink);
    }
    for (const button of Object.values(buttons)) button.hidden = !visible.includes(button);
  }

  function stopTimers() {
    clearInterval(ticker);
    clearTimeout(retryTimer);
    ticker = 0;
    retryTimer = 0;
  }

  function startTicker() {
    if (!ticker) ticker = setInterval(tick, TICK_MS);
    tick();
  }

  function closeSocket() {
    if (socket) {
      const old = socket;
      socket = null;
      old.onopen = old.onmessage = old.onclose = old.onerror = null;
      if (old.readyState <= WebSocket.OPEN) old.close(1000, "page closed the pairing");
    }
  }

  function stop() {
    session += 1;
    closeSocket();
    stopTimers();
  }

  // ---- credentials -----------------------------------------------------------------

  function readFragment() {
    if (!location.hash) return;
    const params = new URLSearchParams(location.hash.slice(1));
    const id = (params.get("id") || params.get("idInstance") || "").trim();
    const token = (params.get("token") || params.get("apiTokenInstance") || "").trim();
    // The fragment holds a secret: take it out of the address bar (and history) at once.
    history.replaceState(null, "", location.pathname + location.search);
    if (!id && !token) return;
    idInput.value = id;
    tokenInput.value = token;
    if (validate()) start(id, token);
  }

  function validate() {
    const idOk = /^[0-9]+$/.test(idInput.value.trim());
    const tokenOk = tokenInput.value.trim() !== "";
    $("id-error").hidden = idOk;
    $("token-error").hidden = tokenOk;
    idInput.setAttribute("aria-invalid", String(!idOk));
    tokenInput.setAttribute("aria-invalid", String(!tokenOk));
    if (!idOk) idInput.focus();
    else if (!tokenOk) tokenInput.focus();
    return idOk && tokenOk;
  }

  function showForm() {
    stop();
    pairing.hidden = true;
    shareBox.hidden = true;
    shareUrl.value = "";
    form.hidden = false;
  }

  function badCredentials() {
    showForm();
    say("bad-credentials", "Wrong instance id or token. Check both and try again.");
    idInput.setAttribute("aria-invalid", "true");
    tokenInput.setAttribute("aria-invalid", "true");
    idInput.focus();
  }

  // ---- the connection ----------------------------------------------------------------

  function start(id, token) {
    creds = id === null ? null : { id, token };
    failures = 0;
    form.hidden = true;
    pairing.hidden = false;
    connect();
  }

  async function connect() {
    stop();
    const mine = session;
    finished = false;
    frames = 0;
    qrBox.hidden = true;
    show(buttons.change);
    say("connecting", "Connecting…");
    // A refused websocket upgrade looks the same as a server that is away, so ask over HTTP
    // first: a 401 means the credentials are wrong (a 410, the link is dead) and retrying will
    // not help. A pairing link's page asks for itself: the ticket opens nothing else.
    let answer;
    try {
      answer = linkMode
        ? await fetch(location.pathname, { method: "HEAD", cache: "no-store" })
        : await fetch(apiUrl("getStateInstance"), { cache: "no-store" });
    } catch {
      if (mine === session) retryLater();
      return;
    }
    if (mine !== session) return;
    if (linkMode && answer.status === 410) return linkExpired();
    if (answer.status === 401) return badCredentials();
    if (!answer.ok) return retryLater();
    openSocket(mine);
    if (!linkMode) showWebhooks(mine);
  }

  function linkExpired() {
    stop();
    finished = true;
    qrBox.hidden = true;
    show();
    say("expired", "This pairing link has expired. Ask whoever sent it for a new one.");
  }

  // Whether this instance's state changes are notified (Green API's stateWebhook setting).
  async function showWebhooks(mine) {
    let settings;
    try {
      const answer = await fetch(apiUrl("getSettings"), { cache: "no-store" });
      if (!answer.ok) return;
      settings = await answer.json();
    } catch {
      return; // a nicety: the pairing goes on without it
    }
    if (mine !== session) return;
    if (settings.stateWebhook === "no") {
      webhooks.textContent = "State webhooks are off (stateWebhook: no): state changes are not notified.";
    } else if (settings.webhookUrl) {
      webhooks.textContent =
        "State webhooks are on: each state change is posted to the instance's webhook URL and queued for receiveNotification.";
    } else {
      webhooks.textContent =
        "State webhooks are on: each state change is queued for receiveNotification (no webhook URL is set).";
    }
    webhooks.dataset.stateWebhook = settings.stateWebhook === "no" ? "no" : "yes";
    webhooks.hidden = false;
  }

  function openSocket(mine) {
    const ws = new WebSocket(socketUrl());
    socket = ws;
    ws.onmessage = (event) => {
      if (mine !== session) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      receive(message);
    };
    ws.onclose = () => {
      if (mine !== session) return;
      socket = null;
      if (finished) return;
      retryLater();
    };
  }

  function retryLater() {
    stopTimers();
    closeSocket();
    failures += 1;
    const ceiling = Math.min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (failures - 1));
    const delay = ceiling * (0.5 + Math.random() * 0.5); // jitter: clients don't return in step
    const mine = session;
    retryAt = performance.now() + delay * 1000;
    qrBox.hidden = true;
    show(buttons.reconnectNow, buttons.change);
    retryTimer = setTimeout(() => {
      if (mine === session) connect();
    }, delay * 1000);
    startTicker();
  }

  // ---- what the server says ----------------------------------------------------------

  function receive(message) {
    switch (message.type) {
      case "qrCode":
        return showFrame(message.message);
      case "accountData": {
        finished = true;
        const data = message.message || {};
        return authorized(data.phone || String(data.wid || "").split("@")[0]);
      }
      case "alreadyLogged":
        finished = true;
        return alreadyLogged();
      case "timeoutExpired":
        finished = true;
        return timedOut();
      case "error":
        if (linkMode && message.message === LINK_EXPIRED) {
          finished = true;
          return linkExpired();
        }
        return say("error", `The server could not make a QR code: ${message.message}. Waiting for the next one…`);
      default:
        return undefined;
    }
  }

  function showFrame(b64) {
    const now = performance.now();
    // The first frame is the current one, sent at once mid-period; only the gaps after the
    // second frame are whole periods.
    if (frames >= 2 || (frames === 1 && !learned)) {
      const gap = (now - lastFrameAt) / 1000;
      if (gap >= MIN_PERIOD_S && (frames >= 2 || gap > period)) {
        period = gap;
        learned = frames >= 2;
      }
    }
    frames += 1;
    failures = 0;
    lastFrameAt = now;
    nextFrameAt = now + period * 1000;
    qr.src = `data:image/png;base64,${b64}`;
    qrBox.hidden = false;
    show(buttons.change);
    say("waiting", "Waiting for a scan: scan the QR code with your phone's camera.");
    startTicker();
  }

  function authorized(phone) {
    stopTimers();
    qrBox.hidden = true;
    say("authorized", phone ? `Authorized as +${phone}` : "Authorized");
    show(buttons.logout, buttons.change);
    if (!linkMode) buttons.logout.focus();
  }

  async function alreadyLogged() {
    if (linkMode) return authorized(""); // the number is the token holder's to read
    const mine = session;
    let phone = "";
    try {
      const answer = await fetch(apiUrl("getSettings"), { cache: "no-store" });
      if (answer.ok) phone = String((await answer.json()).wid || "").split("@")[0];
    } catch {
      // Authorized all the same; the number is a nicety.
    }
    if (mine === session) authorized(phone);
  }

  function timedOut() {
    stopTimers();
    qrBox.hidden = true;
    say("timeout", "Timed out: nobody scanned the QR code in time.");
    show(buttons.newQr, buttons.change);
    buttons.newQr.focus();
  }

  async function logout() {
    stop();
    show(buttons.change);
    say("logging-out", "Logging out…");
    const mine = session;
    let answer;
    try {
      answer = await fetch(apiUrl("logout"), { cache: "no-store" });
    } catch {
      answer = null;
    }
    if (mine !== session) return;
    if (answer && answer.status === 401) return badCredentials();
    if (!answer || !answer.ok) {
      say("authorized", "Could not log out: the server did not answer. Try again.");
      show(buttons.logout, buttons.change);
      return buttons.logout.focus();
    }
    failures = 0;
    return connect();
  }

  // ---- sharing a watch-only link -------------------------------------------------------

  async function shareLink() {
    shareNote.textContent = "Making a pairing link…";
    shareBox.hidden = false;
    let answer;
    try {
      answer = await fetch(apiUrl("createPairingLink"), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
        cache: "no-store",
      });
    } catch {
      answer = null;
    }
    if (!answer || !answer.ok) {
      shareNote.textContent = "Could not make a pairing link: the server did not answer. Try again.";
      return;
    }
    const link = await answer.json();
    shareUrl.value = link.url;
    const until = new Date(link.expiresAt).toLocaleString();
    shareNote.textContent =
      `Whoever opens it sees this QR code and can link a phone, nothing more. It works until ${until}, ` +
      "or until the instance is authorized or logged out.";
    buttons.copyLink.hidden = false;
    shareUrl.focus();
    shareUrl.select();
  }

  async function copyLink() {
    try {
      await navigator.clipboard.writeText(shareUrl.value);
      shareNote.textContent = "Copied. Send it to whoever should link their phone.";
    } catch {
      shareUrl.focus();
      shareUrl.select();
      shareNote.textContent = "The link is selected: copy it with Ctrl+C (⌘C on a Mac).";
    }
  }

  // ---- the countdowns ----------------------------------------------------------------

  function tick() {
    const now = performance.now();
    if (retryTimer) {
      const left = Math.max(0, Math.ceil((retryAt - now) / 1000));
      say("reconnecting", left > 0 ? `Connection lost. Reconnecting in ${left} s…` : "Reconnecting…");
    } else if (main.dataset.state === "waiting") {
      const left = Math.max(0, nextFrameAt - now) / 1000;
      countdown.textContent = left > 0 ? `Next code in ${Math.ceil(left)} s` : "Next code any moment…";
      countdownBar.style.transform = `scaleX(${Math.min(1, left / period)})`;
    }
  }

  // ---- wiring ------------------------------------------------------------------------

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (validate()) start(idInput.value.trim(), tokenInput.value.trim());
  });
  buttons.newQr.addEventListener("click", () => {
    failures = 0;
    connect();
  });
  buttons.reconnectNow.addEventListener("click", () => connect());
  buttons.logout.addEventListener("click", () => logout());
  buttons.shareLink.addEventListener("click", () => shareLink());
  buttons.copyLink.addEventListener("click", () => copyLink());
  buttons.change.addEventListener("click", () => {
    showForm();
    say("idle", "");
    idInput.focus();
  });
  if (linkMode) {
    // The server already says so when the link was dead as the page was asked for.
    if (main.dataset.state !== "expired") start(null, null);
  } else {
    window.addEventListener("hashchange", readFragment);
    readFragment();
  }
})();
