// The console's HTTP client: the admin key from sessionStorage as a bearer header, JSON in and
// out, and the three outcomes the page reacts to: an API error (with its `field`), a wrong key,
// and a server that does not answer.

const KEY = "qrstream.adminKey";

/** The admin key, kept in this tab's sessionStorage only (never a URL, a cookie or localStorage). */
export const adminKey = {
  get: () => sessionStorage.getItem(KEY),
  set: (key) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

/** The server answered with an error status; `field` names the input the API refused. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.error || body.message)) || `The server answered ${status}.`);
    this.status = status;
    this.body = body;
    this.field = body && typeof body.field === "string" ? body.field : null;
  }
}

/** The server could not be reached, or said it is unavailable for now. */
export class ServerAway extends Error {}

// What the page does when the key is refused or the server comes and goes (set by console.js).
export const hooks = {
  unauthorized: () => {},
  away: () => {},
  back: () => {},
};

/**
 * One request. `auth` adds the admin key; an instance's own endpoints carry their token in the
 * path instead. Resolves to the parsed JSON body (null when empty).
 */
export async function call(method, path, body, { auth = true } = {}) {
  const headers = { Accept: "application/json" };
  if (auth) headers.Authorization = `Bearer ${adminKey.get() || ""}`;
  const init = { method, headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  let text;
  try {
    response = await fetch(path, init);
    text = await response.text();
  } catch {
    hooks.away();
    throw new ServerAway("The server is not answering.");
  }
  if (response.status === 502 || response.status === 503 || response.status === 504) {
    hooks.away();
    throw new ServerAway("The server is unavailable for now.");
  }
  hooks.back();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && auth) hooks.unauthorized(error);
    throw error;
  }
  return data;
}

/** `path` with the query parameters that are set (null, undefined and "" are left out). */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/** One keyset-paged admin list (`GET path?limit=50&…&after=<cursor>`). `load({append})` asks for
 * the first page or the one after the last; it answers the page's items, or null when a later
 * load started meanwhile (a newer search or filter answered first: that one is shown). */
export function pager(path, params = () => ({})) {
  let next = null;
  let seq = 0;
  return {
    get next() {
      return next;
    },
    reset() {
      next = null;
    },
    async load({ append = false } = {}) {
      const mine = ++seq;
      const page = await call("GET", withQuery(path, { limit: 50, ...params(), after: append ? next : null }));
      if (mine !== seq) return null;
      next = page.next;
      return page.items;
    },
  };
}

/** The URL of an instance's own method (Green API style: id and token in the path). */
export const instancePath = (id, token, method) =>
  `/waInstance${encodeURIComponent(id)}/${method}/${encodeURIComponent(token)}`;

/** A websocket URL on this server. */
export function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}`;
}
