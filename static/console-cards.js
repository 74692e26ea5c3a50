// The cards section: a searchable list with live scan counts; create and edit forms that show
// the API's field errors beside their fields; the target of the dynamic link; the QR code with
// its design (colours checked for contrast before saving) and PNG/SVG downloads; the statistics
// as a per-day chart and breakdowns.

import { ApiError, ServerAway, call, pager, withQuery } from "/static/console-api.js";
import { breakdowns, dailyChart } from "/static/console-chart.js";
import { checkColours } from "/static/console-contrast.js";
import { $, clearFieldErrors, confirmAction, debounce, h, say, showFieldError } from "/static/console-dom.js";

const FIELDS = ["name", "title", "company", "email", "phone", "website", "note"];
const DEFAULT_DESIGN = { dark: "000000", light: "ffffff", margin: 2, ecc: "M" };

const scansText = (n) => `${n} scan${n === 1 ? "" : "s"}`;
const slug = (name) =>
  (name || "card").normalize("NFKD").replace(/[^\w\s-]/g, "").trim().replace(/\s+/g, "-").toLowerCase() || "card";

export function cardsView() {
  const list = $("card-list");
  const more = $("card-more");
  const empty = $("card-empty");
  const search = $("card-search");
  const detail = $("card-detail");
  const form = $("card-form");
  const extras = $("card-extras");
  const targetForm = $("card-target");
  const designForm = $("card-design");
  const qrImg = $("card-qr");
  const contrast = $("design-contrast");

  const items = new Map(); // uuid -> {data, row}
  let query = "";
  let open = null; // the card shown in the detail (null: the new-card form)
  let imageUrl = null; // its QR image URL (as the API names it for the saved design)
  let design = { ...DEFAULT_DESIGN };
  const pages = pager("/admin/cards", () => ({ q: query }));

  function report(error, prefix) {
    if (error instanceof ApiError && error.field && prefix && showFieldError(prefix, error.field, error.message)) {
      say(`Not saved: ${error.message}`, "error");
    } else if (error instanceof ServerAway) {
      say("Not done: the server is not answering.", "error");
    } else if (!(error instanceof ApiError && error.status === 401)) {
      say(`Not done: ${error.message}`, "error");
    }
  }

  // ---- the list ---------------------------------------------------------------------

  function row(card) {
    return h(
      "li",
      { class: "row", dataset: { uuid: card.uuid } },
      h("span", { class: "row-main" }, h("strong", { class: "row-name" }, card.name), " ",
        h("span", { class: "muted row-company" }, card.company || "")),
      h("span", { class: "scans", dataset: { scans: String(card.scans ?? 0) } }, scansText(card.scans ?? 0)),
      h("span", { class: "row-actions" },
        h("button", { type: "button", "aria-label": `Open card ${card.name}`, onclick: () => openCard(card.uuid) }, "Open"),
      ),
    );
  }

  function put(card, { top = false } = {}) {
    const known = items.get(card.uuid);
    if (known) {
      known.data = { ...known.data, ...card };
      known.row.replaceWith((known.row = row(known.data)));
      return;
    }
    const entry = { data: card, row: row(card) };
    items.set(card.uuid, entry);
    if (top) list.prepend(entry.row);
    else list.append(entry.row);
    empty.hidden = true;
  }

  function setScans(uuid, scans) {
    const known = items.get(uuid);
    if (known) {
      known.data.scans = scans;
      const cell = known.row.querySelector(".scans");
      cell.dataset.scans = String(scans);
      cell.textContent = scansText(scans);
    }
  }

  async function load({ append = false } = {}) {
    const cards = await pages.load({ append });
    if (cards === null) return; // a newer search answered first
    if (!append) {
      list.replaceChildren();
      items.clear();
    }
    for (const card of cards) put(card);
    more.hidden = !pages.next;
    empty.hidden = items.size > 0;
    empty.textContent = query ? `No card's name contains “${query}”.` : "No cards yet.";
  }

  const searchNow = debounce(() => {
    query = search.value.trim();
    load()
      .then(() => say(query ? `${items.size}${pages.next ? "+" : ""} cards match “${query}”.` : "All cards shown.", "done"))
      .catch((e) => report(e));
  }, 250);

  // ---- the form ---------------------------------------------------------------------

  function fillForm(card) {
    for (const field of FIELDS) $(`card-form-${field}`).value = (card && card[field]) || "";
  }

  function openNew() {
    open = null;
    clearFieldErrors(form);
    fillForm(null);
    $("card-detail-title").textContent = "New card";
    $("card-save").textContent = "Create card";
    extras.hidden = true;
    detail.hidden = false;
    $("card-form-name").focus();
  }

  function closeDetail() {
    open = null;
    detail.hidden = true;
  }

  async function save(event) {
    event.preventDefault();
    clearFieldErrors(form);
    const body = {};
    for (const field of FIELDS) {
      const value = $(`card-form-${field}`).value.trim();
      if (open) body[field] = value === "" && field !== "name" ? null : value;
      else if (value !== "" || field === "name") body[field] = value;
    }
    try {
      if (open) {
        const card = await call("PATCH", `/admin/cards/${open.uuid}`, body);
        say(`Card “${card.name}” saved.`, "done");
        await show(card);
      } else {
        const card = await call("POST", "/admin/cards", body);
        say(`Card “${card.name}” created.`, "done");
        put({ ...card, scans: 0 }, { top: true });
        await show(card);
      }
    } catch (error) {
      report(error, "card-form");
    }
  }

  // ---- one card ---------------------------------------------------------------------

  async function openCard(uuid) {
    try {
      await show(await call("GET", `/admin/cards/${uuid}`));
      $("card-detail-title").focus();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        say("That card no longer exists.", "warn");
        items.get(uuid)?.row.remove();
        items.delete(uuid);
      } else report(error);
    }
  }

  async function show(card) {
    open = card;
    clearFieldErrors(form);
    fillForm(card);
    $("card-detail-title").textContent = `Card: ${card.name}`;
    $("card-save").textContent = "Save changes";
    const pub = $("card-public");
    pub.href = card.publicUrl;
    pub.textContent = card.publicUrl;
    $("card-target-url").value = card.target || "";
    clearFieldErrors(targetForm);
    design = { ...DEFAULT_DESIGN, ...(card.design || {}) };
    fillDesign();
    extras.hidden = false;
    detail.hidden = false;
    put({ ...card, scans: items.get(card.uuid)?.data.scans ?? 0 });
    await Promise.all([loadQr(), loadStats()]);
  }

  async function saveTarget(event) {
    event.preventDefault();
    clearFieldErrors(targetForm);
    const value = $("card-target-url").value.trim();
    try {
      const card = await call("PUT", `/admin/cards/${open.uuid}/target`, { url: value || null });
      open = { ...open, ...card };
      say(value ? `The QR code of “${card.name}” now leads to ${value}.` : `The QR code of “${card.name}” leads to its card page again.`, "done");
    } catch (error) {
      report(error, "card-target");
    }
  }

  async function remove() {
    const card = open;
    if (!card || !(await confirmAction(`Delete the card “${card.name}”? Its QR code stops working.`))) return;
    try {
      await call("DELETE", `/admin/cards/${card.uuid}`);
      say(`Card “${card.name}” deleted.`, "done");
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) {
        report(error);
        return;
      }
    }
    items.get(card.uuid)?.row.remove();
    items.delete(card.uuid);
    empty.hidden = items.size > 0;
    closeDetail();
  }

  // ---- the QR code and its design ---------------------------------------------------

  const hex = (value) => value.replace(/^#/, "").toLowerCase();

  function fillDesign() {
    $("design-dark").value = `#${design.dark}`;
    const transparent = design.light === "transparent";
    $("design-transparent").checked = transparent;
    $("design-light").value = transparent ? "#ffffff" : `#${design.light}`;
    $("design-light").disabled = transparent;
    $("design-margin").value = String(design.margin);
    $("design-ecc").value = design.ecc;
    checkDesign();
  }

  function formDesign() {
    const transparent = $("design-transparent").checked;
    return {
      dark: hex($("design-dark").value),
      light: transparent ? "transparent" : hex($("design-light").value),
      margin: Number($("design-margin").value),
      ecc: $("design-ecc").value,
    };
  }

  function checkDesign() {
    const wanted = formDesign();
    $("design-light").disabled = wanted.light === "transparent";
    const verdict = checkColours(wanted.dark, wanted.light);
    contrast.textContent = verdict.message;
    contrast.dataset.ok = String(verdict.ok);
    for (const id of ["design-dark", "design-light"]) {
      if (verdict.ok) $(id).removeAttribute("aria-invalid");
      else $(id).setAttribute("aria-invalid", "true");
    }
    return verdict;
  }

  function designQuery(wanted) {
    const params = {};
    for (const key of ["dark", "light", "margin", "ecc"]) {
      if (String(wanted[key]) !== String(design[key])) params[key] = wanted[key];
    }
    return params;
  }

  function showImage() {
    if (!imageUrl) return;
    const wanted = formDesign();
    const preview = checkDesign().ok && Number.isInteger(wanted.margin) && wanted.margin >= 0 && wanted.margin <= 16;
    const params = preview ? designQuery(wanted) : {};
    qrImg.src = withQuery(imageUrl, params);
    $("card-qr-caption").textContent = Object.keys(params).length
      ? "Preview of the design below (not saved yet)."
      : "The card's QR code as it is served.";
    const name = slug(open && open.name);
    const png = $("card-download-png");
    png.href = withQuery(imageUrl, { format: "png" });
    png.setAttribute("download", `${name}-qr.png`);
    const svgLink = $("card-download-svg");
    svgLink.href = withQuery(imageUrl, { format: "svg" });
    svgLink.setAttribute("download", `${name}-qr.svg`);
  }

  async function loadQr() {
    if (!open) return;
    const uuid = open.uuid;
    const made = await call("POST", `/v1/public/card/${uuid}/qr-code`, {}, { auth: false });
    if (!open || open.uuid !== uuid) return;
    imageUrl = made.url;
    showImage();
  }

  async function saveDesign(event) {
    event.preventDefault();
    clearFieldErrors(designForm);
    const verdict = checkDesign();
    const wanted = formDesign();
    if (!verdict.ok) {
      say(`Design not saved. ${verdict.message}`, "error");
      $("design-dark").focus();
      return;
    }
    try {
      const saved = await call("PUT", `/admin/cards/${open.uuid}/design`, wanted);
      design = { ...DEFAULT_DESIGN, ...(saved || wanted) };
      open = { ...open, design };
      fillDesign();
      say(`Design of “${open.name}” saved.`, "done");
      await loadQr();
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 405) && !error.field) {
        say("This server cannot save QR designs yet.", "warn");
      } else if (error instanceof ApiError && error.field && ["dark", "light"].includes(error.field)) {
        contrast.textContent = error.message;
        contrast.dataset.ok = "false";
        say(`Design not saved: ${error.message}`, "error");
      } else report(error, "design");
    }
  }

  // ---- statistics -------------------------------------------------------------------

  async function loadStats() {
    if (!open) return;
    const uuid = open.uuid;
    const stats = await call("GET", `/admin/cards/${uuid}/stats`);
    if (!open || open.uuid !== uuid) return;
    const parts = [scansText(stats.scans)];
    if (typeof stats.uniqueVisitors === "number") {
      parts.push(`${stats.uniqueVisitors} unique visitor${stats.uniqueVisitors === 1 ? "" : "s"}`);
    }
    const summary = $("card-stats-summary");
    summary.textContent = `${parts.join(", ")} in all.`;
    summary.dataset.scans = String(stats.scans);
    $("card-chart").replaceChildren(dailyChart(stats.daily));
    $("card-breakdowns").replaceChildren(...breakdowns(stats));
    setScans(uuid, stats.scans);
  }

  const reloadStats = debounce(() => loadStats().catch(() => {}), 400);

  function onEvent(event) {
    if (event.type !== "scan") return;
    setScans(event.uuid, event.scans);
    if (open && open.uuid === event.uuid) {
      const summary = $("card-stats-summary");
      summary.dataset.scans = String(event.scans);
      reloadStats();
    }
  }

  form.addEventListener("submit", save);
  targetForm.addEventListener("submit", saveTarget);
  designForm.addEventListener("submit", saveDesign);
  designForm.addEventListener("input", showImage);
  designForm.addEventListener("change", showImage);
  search.addEventListener("input", searchNow);
  more.addEventListener("click", () => load({ append: true }).catch((e) => report(e)));
  $("card-new").addEventListener("click", openNew);
  $("card-close").addEventListener("click", closeDetail);
  $("card-delete").addEventListener("click", remove);

  return {
    load,
    onEvent,
    reset() {
      closeDetail();
      list.replaceChildren();
      items.clear();
      pages.reset();
      query = "";
      search.value = "";
    },
  };
}
