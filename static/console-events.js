// The live event stream: a one-use ticket (browsers cannot put headers on a websocket), then
// /admin/events?ticket=…; when the socket drops it reconnects with capped, jittered exponential
// backoff, with a fresh ticket each time.

import { ApiError, call, socketUrl } from "/static/console-api.js";

const BACKOFF_BASE_S = 1;
const BACKOFF_CAP_S = 30;

export class EventStream {
  /**
   * onEvent(message) gets every event; onState(state, detail) hears "connecting", "live",
   * "reconnecting" (detail: seconds until the next try) and "stopped".
   */
  constructor({ onEvent, onState }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.socket = null;
    this.failures = 0;
    this.timer = 0;
    this.running = false;
    this.session = 0;
  }

  start() {
    this.stop();
    this.running = true;
    this.failures = 0;
    this.connect(++this.session);
  }

  stop() {
    this.running = false;
    this.session++;
    clearTimeout(this.timer);
    this.timer = 0;
    if (this.socket) {
      const old = this.socket;
      this.socket = null;
      old.onopen = old.onmessage = old.onclose = old.onerror = null;
      old.close(1000);
    }
    this.onState("stopped");
  }

  /** Try again now (the "Reconnect now" button, or the server answered again). */
  reconnectNow() {
    if (!this.running || this.socket) return;
    clearTimeout(this.timer);
    this.connect(++this.session);
  }

  async connect(session) {
    this.onState("connecting");
    let ticket;
    try {
      ({ ticket } = await call("POST", "/admin/events/ticket", {}));
    } catch (error) {
      if (session !== this.session) return;
      if (error instanceof ApiError && error.status === 401) {
        this.running = false; // the key is wrong now: the page signs out
        return;
      }
      this.retry(session);
      return;
    }
    if (session !== this.session) return;
    const socket = new WebSocket(socketUrl(`/admin/events?ticket=${encodeURIComponent(ticket)}`));
    this.socket = socket;
    socket.onopen = () => {
      if (session !== this.session) return;
      this.failures = 0;
      this.onState("live");
    };
    socket.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event && typeof event.type === "string") this.onEvent(event);
    };
    socket.onclose = () => {
      if (session !== this.session || this.socket !== socket) return;
      this.socket = null;
      this.retry(session);
    };
  }

  retry(session) {
    if (!this.running || session !== this.session) return;
    const ceiling = Math.min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** this.failures);
    const delay = ceiling / 2 + (Math.random() * ceiling) / 2;
    this.failures++;
    this.onState("reconnecting", Math.ceil(delay));
    this.timer = setTimeout(() => this.connect(session), delay * 1000);
  }
}
