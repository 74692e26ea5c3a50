// The verifications section (by status, live) and the failed webhooks section (live).

import { ApiError, ServerAway, call, pager, withQuery } from "/static/console-api.js";
import { $, debounce, h, say, when } from "/static/console-dom.js";

function report(error) {
  if (error instanceof ServerAway) say("Not done: the server is not answering.", "error");
  else if (!(error instanceof ApiError && error.status === 401)) say(`Not done: ${error.message}`, "error");
}

export function verificationsView() {
  const list = $("verification-list");
  const more = $("verification-more");
  const empty = $("verification-empty");
  const filter = $("verification-status");
  const rows = new Map(); // verificationId -> row
  const pages = pager("/admin/verifications", () => ({ status: filter.value }));

  function row(v) {
    const extra = v.extra_data ? JSON.stringify(v.extra_data) : "";
    return h(
      "li",
      { class: "row", dataset: { id: v.verificationId } },
      h("span", { class: "badge", dataset: { state: v.status } }, v.status),
      h("span", { class: "row-main" }, h("code", {}, v.verificationId), extra ? " " : "",
        extra ? h("span", { class: "muted extra" }, extra.length > 80 ? `${extra.slice(0, 79)}…` : extra) : ""),
      h("span", { class: "muted row-when" }, `created ${when(v.createdAt)}`),
      h("span", { class: "muted row-when" }, `expires ${when(v.expiresAt)}`),
    );
  }

  async function load({ append = false } = {}) {
    const found = await pages.load({ append });
    if (found === null) return; // a newer filter answered first
    if (!append) {
      list.replaceChildren();
      rows.clear();
    }
    for (const v of found) {
      if (rows.has(v.verificationId)) continue;
      const el = row(v);
      rows.set(v.verificationId, el);
      list.append(el);
    }
    more.hidden = !pages.next;
    empty.hidden = rows.size > 0;
  }

  const reload = debounce(() => load().catch(report), 300);

  function onEvent(event) {
    if (event.type !== "verification") return;
    const known = rows.get(event.verificationId);
    const wanted = filter.value;
    if (known) {
      if (wanted && wanted !== event.status) {
        known.remove();
        rows.delete(event.verificationId);
        empty.hidden = rows.size > 0;
      } else {
        const badge = known.querySelector(".badge");
        badge.dataset.state = event.status;
        badge.textContent = event.status;
      }
      say(`Verification ${event.verificationId} is now ${event.status}.`, "done");
    } else if (!wanted || wanted === event.status) {
      reload(); // a new one, or one that now matches the filter
    }
  }

  filter.addEventListener("change", () =>
    load()
      .then(() => say(filter.value ? `Verifications that are ${filter.value}.` : "Verifications of every status.", "done"))
      .catch(report),
  );
  more.addEventListener("click", () => load({ append: true }).catch(report));

  return {
    load,
    onEvent,
    reset() {
      list.replaceChildren();
      rows.clear();
      pages.reset();
      filter.value = "";
    },
  };
}

export function webhooksView() {
  const list = $("webhook-list");
  const empty = $("webhook-empty");

  function row(f) {
    const what = f.body && f.body.typeWebhook ? f.body.typeWebhook : "notification";
    return h(
      "li",
      { class: "row failed", dataset: { receipt: String(f.receiptId) } },
      h("span", { class: "row-main" }, h("code", { class: "url" }, f.url)),
      h("span", { class: "reason" }, f.lastError || "no reason recorded"),
      h("span", { class: "muted" }, `${what}${f.idInstance ? ` of instance ${f.idInstance}` : ""}, ${f.attempts} tr${f.attempts === 1 ? "y" : "ies"}`),
      h("span", { class: "muted row-when" }, `given up ${when(f.gaveUpAt)}`),
    );
  }

  async function load() {
    const answer = await call("GET", withQuery("/admin/webhooks/failed", { limit: 100 }));
    list.replaceChildren(...answer.failed.map(row));
    empty.hidden = answer.failed.length > 0;
  }

  const reload = debounce(() => load().catch(report), 300);

  function onEvent(event) {
    if (event.type !== "webhookFailed") return;
    say(`A webhook to ${event.url} was given up: ${event.reason}.`, "warn");
    reload();
  }

  return {
    load,
    onEvent,
    reset() {
      list.replaceChildren();
    },
  };
}
