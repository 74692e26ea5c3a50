// Small DOM helpers of the console: building elements, telling states in words, field errors.

const SVG_NS = "http://www.w3.org/2000/svg";

export const $ = (id) => document.getElementById(id);

function fill(el, props, children) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** An HTML element: h("button", {type: "button", onclick: f}, "Label"). */
export const h = (tag, props, ...children) => fill(document.createElement(tag), props, children);

/** An SVG element, the same way. */
export const svg = (tag, props, ...children) => fill(document.createElementNS(SVG_NS, tag), props, children);

const statusLine = () => $("status");

/** Tell `text` in the aria-live status line; `state` colours it (working, done, error, warn). */
export function say(text, state = "working") {
  const line = statusLine();
  line.dataset.state = state;
  line.textContent = text;
}

/** Show the API's message for `field` beside its input (ids `<prefix>-<field>` and `…-error`). */
export function showFieldError(prefix, field, message) {
  const input = $(`${prefix}-${field}`);
  const error = $(`${prefix}-${field}-error`);
  if (!input || !error) return false;
  error.textContent = message;
  error.hidden = false;
  input.setAttribute("aria-invalid", "true");
  input.focus();
  return true;
}

/** Clear every field error of the form whose inputs have ids starting with `prefix-`. */
export function clearFieldErrors(form) {
  for (const error of form.querySelectorAll(".field-error")) {
    error.hidden = true;
    error.textContent = "";
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/** ISO-8601 text or unix seconds as "YYYY-MM-DD HH:MM UTC". */
export function when(value) {
  if (value === null || value === undefined || value === "") return "—";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** Ask a yes/no question in the page's modal dialog; resolves true for the confirming button. */
export function confirmAction(text, okLabel = "Delete") {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    const opener = document.activeElement;
    dialog.addEventListener(
      "close",
      () => {
        resolve(dialog.returnValue === "ok");
        if (opener instanceof HTMLElement) opener.focus();
      },
      { once: true },
    );
    dialog.returnValue = "cancel";
    dialog.showModal();
    $("confirm-cancel").focus();
  });
}

/** Call `fn` once `ms` after the last of a burst of calls. */
export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
