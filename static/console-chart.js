// The card statistics drawn by the script: a per-day bar chart as inline SVG (one bar for
// each day with scans), with the same numbers as a table, and the breakdowns as small tables.

import { h, svg } from "/static/console-dom.js";

const WIDTH = 640;
const HEIGHT = 220;
const PAD = { top: 16, right: 12, bottom: 34, left: 40 };
const MAX_DAYS = 92;
const DAY_MS = 86_400_000;

const dayText = (ms) => new Date(ms).toISOString().slice(0, 10);
const dayMs = (text) => Date.parse(`${text}T00:00:00Z`);

/** Every day from the first to the last of `daily` (at most the last MAX_DAYS), with its count. */
export function daySeries(daily) {
  const days = Object.keys(daily || {})
    .filter((day) => /^\d{4}-\d{2}-\d{2}$/.test(day) && !Number.isNaN(dayMs(day)))
    .sort();
  if (!days.length) return [];
  const last = dayMs(days[days.length - 1]);
  const first = Math.max(dayMs(days[0]), last - (MAX_DAYS - 1) * DAY_MS);
  const series = [];
  for (let ms = first; ms <= last; ms += DAY_MS) {
    const day = dayText(ms);
    series.push({ day, count: Number(daily[day]) || 0 });
  }
  return series;
}

/** A "nice" top for the y axis: 1, 2 or 5 times a power of ten, at least `max`. */
function niceTop(max) {
  if (max <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

/** The chart element for `daily` ({"YYYY-MM-DD": count}). */
export function dailyChart(daily) {
  const series = daySeries(daily);
  if (!series.length) return h("p", { class: "muted", id: "chart-empty" }, "No scans yet.");
  const top = niceTop(Math.max(...series.map((d) => d.count)));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / series.length;
  const barW = Math.max(1, Math.min(28, slot * 0.75));
  const total = series.reduce((sum, d) => sum + d.count, 0);
  const withScans = series.filter((d) => d.count > 0).length;
  const y = (count) => PAD.top + plotH - (count / top) * plotH;

  const chart = svg(
    "svg",
    {
      class: "chart",
      id: "card-chart-svg",
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: "img",
      "aria-labelledby": "chart-title chart-desc",
    },
    svg("title", { id: "chart-title" }, "Scans per day"),
    svg(
      "desc",
      { id: "chart-desc" },
      `${total} scans from ${series[0].day} to ${series[series.length - 1].day}, on ${withScans} ` +
        `day${withScans === 1 ? "" : "s"}; the most in one day: ${Math.max(...series.map((d) => d.count))}.`,
    ),
  );
  const ticks = top <= 5 ? Array.from({ length: top + 1 }, (_, i) => i) : [0, top / 2, top];
  for (const value of ticks) {
    const lineY = y(value);
    chart.append(
      svg("line", { class: "grid-line", x1: PAD.left, x2: WIDTH - PAD.right, y1: lineY, y2: lineY }),
      svg("text", { class: "axis", x: PAD.left - 6, y: lineY + 4, "text-anchor": "end" }, String(value)),
    );
  }
  series.forEach((d, index) => {
    if (d.count <= 0) return; // a day without scans has no bar
    const x = PAD.left + index * slot + (slot - barW) / 2;
    chart.append(
      svg(
        "rect",
        {
          class: "bar",
          x: x.toFixed(2),
          y: y(d.count).toFixed(2),
          width: barW.toFixed(2),
          height: (PAD.top + plotH - y(d.count)).toFixed(2),
          dataset: { day: d.day, count: String(d.count) },
        },
        svg("title", {}, `${d.day}: ${d.count} scan${d.count === 1 ? "" : "s"}`),
      ),
    );
    if (barW >= 12) {
      chart.append(
        svg("text", { class: "bar-label", x: (x + barW / 2).toFixed(2), y: (y(d.count) - 4).toFixed(2), "text-anchor": "middle", "aria-hidden": "true" }, String(d.count)),
      );
    }
  });
  const labels = series.length === 1 ? [0] : [0, series.length - 1];
  for (const index of labels) {
    const anchor = series.length === 1 ? "middle" : index === 0 ? "start" : "end";
    const x = series.length === 1 ? PAD.left + slot / 2 : index === 0 ? PAD.left : WIDTH - PAD.right;
    chart.append(svg("text", { class: "axis", x, y: HEIGHT - 10, "text-anchor": anchor }, series[index].day));
  }

  const rows = series.filter((d) => d.count > 0);
  const table = h(
    "details",
    { class: "chart-table" },
    h("summary", {}, "The scans per day as a table"),
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day"), h("th", { scope: "col" }, "Scans"))),
      h("tbody", {}, rows.map((d) => h("tr", {}, h("td", {}, d.day), h("td", {}, String(d.count))))),
    ),
  );
  return h("div", {}, chart, table);
}

const BREAKDOWNS = [
  ["devices", "Devices"],
  ["os", "Operating systems"],
  ["browsers", "Browsers"],
  ["referrers", "Referrers"],
  ["bots", "Bots and link previews (not counted)"],
];

/** One small table per breakdown the statistics answer carries. */
export function breakdowns(stats) {
  const out = [];
  for (const [key, title] of BREAKDOWNS) {
    const counts = stats[key];
    if (!counts || typeof counts !== "object") continue;
    const entries = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    out.push(
      h(
        "section",
        { class: "breakdown", dataset: { breakdown: key } },
        h("h5", {}, title),
        entries.length
          ? h(
              "table",
              {},
              h("tbody", {}, entries.map(([name, n]) => h("tr", {}, h("th", { scope: "row" }, name || "none"), h("td", {}, String(n))))),
            )
          : h("p", { class: "muted" }, "None."),
      ),
    );
  }
  return out;
}
