// The instances section: the list (newest first, live state badges from the event stream),
// create, delete with confirmation, and one instance's details with its current pairing QR
// (its scanqrcode stream) and a pairing link to copy.

import { ApiError, ServerAway, call, instancePath, pager, socketUrl } from "/static/console-api.js";
import { $, clearFieldErrors, confirmAction, h, say, showFieldError, when } from "/static/console-dom.js";

const STATE_WORDS = {
  notAuthorized: "not authorized",
  authorized: "authorized",
  starting: "starting",
};

const stateWords = (state) => STATE_WORDS[state] || state;

function badge(state) {
  return h("span", { class: "badge", dataset: { state } }, stateWords(state));
}

function setBadge(el, state) {
  el.dataset.state = state;
  el.textContent = stateWords(state);
}

export function instancesView() {
  const list = $("instance-list");
  const more = $("instance-more");
  const empty = $("instance-empty");
  const form = $("instance-create");
  const detail = $("instance-detail");
  const qrBox = $("instance-qr-box");
  const qr = $("instance-qr");
  const qrCaption = $("instance-qr-caption");
  const showQr = $("instance-show-qr");
  const linkBox = $("instance-link-box");
  const linkInput = $("instance-link");

  const items = new Map(); // idInstance -> {data, row}
  const pages = pager("/admin/instances");
  let open = null; // {id, token, state}
  let qrSocket = null;

  function row(item) {
    const id = item.idInstance;
    return h(
      "li",
      { class: "row", dataset: { id: String(id) } },
      badge(item.stateInstance),
      h("span", { class: "row-main" }, h("code", { class: "row-id" }, String(id)), " ",
        h("span", { class: "muted row-wid" }, item.wid ? `+${item.wid.split("@")[0]}` : "no phone linked")),
      h("span", { class: "muted row-when" }, when(item.createdAt)),
      h("span", { class: "row-actions" },
        h("button", { type: "button", "aria-label": `Open instance ${id}`, onclick: () => openDetail(id) }, "Open"),
        h("button", { type: "button", class: "danger", "aria-label": `Delete instance ${id}`, onclick: () => remove(id) }, "Delete"),
      ),
    );
  }

  function put(item, { top = false } = {}) {
    const id = Number(item.idInstance);
    const known = items.get(id);
    if (known) {
      known.data = { ...known.data, ...item };
      setBadge(known.row.querySelector(".badge"), known.data.stateInstance);
      known.row.querySelector(".row-wid").textContent = known.data.wid
        ? `+${known.data.wid.split("@")[0]}`
        : "no phone linked";
      return;
    }
    const entry = { data: item, row: row(item) };
    items.set(id, entry);
    if (top) list.prepend(entry.row);
    else list.append(entry.row);
    empty.hidden = true;
  }

  function drop(id) {
    const known = items.get(id);
    if (known) {
      known.row.remove();
      items.delete(id);
    }
    empty.hidden = items.size > 0;
    if (open && open.id === id) closeDetail();
  }

  async function load({ append = false } = {}) {
    const found = await pages.load({ append });
    if (found === null) return; // a later load answers
    if (!append) {
      list.replaceChildren();
      items.clear();
    }
    for (const item of found) put(item);
    more.hidden = !pages.next;
    empty.hidden = items.size > 0;
  }

  async function create(event) {
    event.preventDefault();
    clearFieldErrors(form);
    const url = $("instance-webhook").value.trim();
    try {
      const made = await call("POST", "/admin/instances", url ? { webhookUrl: url } : {});
      form.reset();
      const id = Number(made.idInstance);
      say(`Instance ${id} created; it waits for a phone to scan its QR code.`, "done");
      try {
        put(await call("GET", `/admin/instances/${id}`), { top: true });
      } catch {
        put({ idInstance: id, stateInstance: "notAuthorized", wid: "", webhookUrl: url, createdAt: null }, { top: true });
      }
      await openDetail(id, made.apiTokenInstance);
    } catch (error) {
      report(error, "instance");
    }
  }

  function report(error, prefix) {
    if (error instanceof ApiError && error.field && showFieldError(prefix, error.field, error.message)) {
      say(`Not saved: ${error.message}`, "error");
    } else if (error instanceof ServerAway) {
      say("Not done: the server is not answering.", "error");
    } else if (!(error instanceof ApiError && error.status === 401)) {
      say(`Not done: ${error.message}`, "error");
    }
  }

  async function remove(id) {
    if (!(await confirmAction(`Delete instance ${id}? Its phone is unlinked and its credentials stop working.`))) {
      say(`Instance ${id} kept.`, "done");
      return;
    }
    try {
      await call("DELETE", `/admin/instances/${id}`);
      say(`Instance ${id} deleted.`, "done");
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) {
        report(error, "instance");
        return;
      }
      say(`Instance ${id} was already gone.`, "done");
    }
    drop(id);
  }

  // ---- one instance -----------------------------------------------------------------

  function closeQr() {
    if (qrSocket) {
      const old = qrSocket;
      qrSocket = null;
      old.onmessage = old.onclose = old.onerror = null;
      old.close(1000);
    }
  }

  function closeDetail() {
    closeQr();
    open = null;
    detail.hidden = true;
    linkBox.hidden = true;
  }

  function showState(state, wid) {
    setBadge($("instance-state"), state);
    if (wid !== undefined) $("instance-wid").textContent = wid ? `+${wid.split("@")[0]}` : "none linked";
  }

  function streamQr() {
    closeQr();
    if (!open || !open.token || open.state !== "notAuthorized") {
      qrBox.hidden = true;
      showQr.hidden = true;
      return;
    }
    const { id, token } = open;
    const socket = new WebSocket(socketUrl(instancePath(id, token, "scanqrcode")));
    qrSocket = socket;
    qrBox.hidden = false;
    showQr.hidden = true;
    qrCaption.textContent = "Connecting to the instance's QR stream…";
    socket.onmessage = (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      if (data.type === "qrCode") {
        qr.src = `data:image/png;base64,${data.message}`;
        qrCaption.textContent = "The current pairing QR code; it changes regularly.";
      } else if (data.type === "accountData" || data.type === "alreadyLogged") {
        qrBox.hidden = true;
      } else if (data.type === "timeoutExpired") {
        qrBox.hidden = true;
        showQr.hidden = false;
        say(`Nobody scanned instance ${id}'s QR code in time.`, "warn");
      } else if (data.type === "error") {
        qrCaption.textContent = data.message;
      }
    };
    socket.onclose = () => {
      if (qrSocket !== socket) return;
      qrSocket = null;
      if (open && open.id === id && open.state === "notAuthorized") {
        qrBox.hidden = true;
        showQr.hidden = false;
      }
    };
  }

  async function openDetail(id, token) {
    let item;
    try {
      item = await call("GET", `/admin/instances/${id}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        say(`Instance ${id} no longer exists.`, "warn");
        drop(id);
      } else report(error, "instance");
      return;
    }
    if (!token) {
      try {
        token = (await call("GET", `/admin/instances/${id}/credentials`)).apiTokenInstance;
      } catch {
        token = null; // shown without its QR; the pairing link says why
      }
    }
    closeQr();
    linkBox.hidden = true;
    open = { id, token, state: item.stateInstance };
    $("instance-detail-title").textContent = `Instance ${id}`;
    showState(item.stateInstance, item.wid);
    $("instance-webhook-url").textContent = item.webhookUrl || "none";
    $("instance-created").textContent = when(item.createdAt);
    detail.hidden = false;
    $("instance-detail-title").focus();
    streamQr();
  }

  async function pairingLink() {
    if (!open || !open.token) {
      say("This instance's token is not known to the console, so it cannot make a pairing link.", "error");
      return;
    }
    const id = open.id;
    try {
      const made = await call("POST", instancePath(id, open.token, "createPairingLink"), {}, { auth: false });
      linkInput.value = made.url;
      $("instance-link-expiry").textContent = `(valid until ${when(made.expiresAt)})`;
      linkBox.hidden = false;
      let copied = false;
      try {
        await navigator.clipboard.writeText(made.url);
        copied = true;
      } catch {
        copied = false;
      }
      linkInput.focus();
      linkInput.select();
      say(
        copied
          ? `Pairing link of instance ${id} copied. It can only watch the QR code, never use the instance.`
          : `Pairing link of instance ${id} made: copy it from the field below.`,
        "done",
      );
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) {
        say("This server cannot make pairing links yet (createPairingLink is not available).", "warn");
      } else report(error, "instance");
    }
  }

  // ---- live events ------------------------------------------------------------------

  async function onEvent(event) {
    const id = Number(event.idInstance);
    if (event.type === "instanceDeleted") {
      if (items.has(id)) say(`Instance ${id} was deleted.`, "done");
      drop(id);
      return;
    }
    if (event.type !== "instance") return;
    const state = event.stateInstance;
    const known = items.get(id);
    if (known) {
      const before = known.data.stateInstance;
      put({ idInstance: id, stateInstance: state });
      if (before !== state) say(`Instance ${id} is now ${stateWords(state)}.`, "done");
    }
    if (open && open.id === id) {
      const wasWaiting = open.state === "notAuthorized";
      open.state = state;
      showState(state);
      if (state !== "notAuthorized") {
        closeQr();
        qrBox.hidden = true;
        showQr.hidden = true;
      } else if (!wasWaiting) {
        streamQr();
      }
    }
    if (known && state === "starting") return; // the phone number stays what it was
    let item;
    try {
      item = await call("GET", `/admin/instances/${id}`); // the new phone number, or a new row
    } catch {
      return; // gone again, or the server is away: the next reload shows the truth
    }
    if (!items.has(id)) say(`Instance ${id} appeared (${stateWords(item.stateInstance)}).`, "done");
    put(item, { top: true });
    if (open && open.id === id) showState(open.state, item.wid);
  }

  form.addEventListener("submit", create);
  more.addEventListener("click", () => load({ append: true }).catch((e) => report(e, "instance")));
  $("instance-close").addEventListener("click", closeDetail);
  $("instance-delete").addEventListener("click", () => open && remove(open.id));
  $("instance-pairing-link").addEventListener("click", pairingLink);
  showQr.addEventListener("click", streamQr);

  return {
    load,
    onEvent,
    reset() {
      closeDetail();
      list.replaceChildren();
      items.clear();
      pages.reset();
    },
  };
}
