// The transparency report (GET /api/transparency) drawn by the dashboard itself: a bar chart in inline SVG
// (createElementNS; no chart library) and a table of every number of the report. Bars are grouped by
// month, one per series; a bar's height is its number times one scale shared by every bar, so heights
// compare across months and series. Each bar carries its month, series and value (data-*) and a <title>
// that says them, and the table beside it is the chart's text alternative.

import { text } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";

const sum = (group) => Object.values(group).reduce((a, b) => a + b, 0);

// What the chart shows per month, each from the report's own counts (docs/audit.md, Transparency report).
export const SERIES = [
  { key: "received", label: "Requests received", colour: "#0969da", value: (m) => m.requests.received },
  {
    key: "granted",
    label: "Requests granted (approved or narrowed)",
    colour: "#1a7f37",
    value: (m) => m.requests.approved + m.requests.narrowed,
  },
  { key: "overrides", label: "Legal-process overrides", colour: "#cf222e", value: (m) => sum(m.overrides) },
  {
    key: "exports",
    label: "Packages of footage released",
    colour: "#8250df",
    value: (m) => m.released_by_request.exports + m.released_by_override.exports + m.released_other_basis.exports,
  },
];

const GROUP_NAMES = {
  requests: "Requests",
  overrides: "Overrides",
  emergency_follow_up: "Emergency follow-up",
  released_by_request: "Released by request",
  released_by_override: "Released by override",
  released_other_basis: "Released on another basis",
  share_link_downloads: "Share-link downloads",
};

function svg(name, attributes) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

// Geometry in the SVG's own units; the element scales to its box (CSS width: 100%).
const PLOT_HEIGHT = 200;
const TOP = 12;
const LEFT = 36;
const BAR = 14;
const GAP = 3;
const MONTH_GAP = 18;
const BOTTOM = 34;

function niceTop(max) {
  if (max <= 4) return Math.max(max, 1);
  const step = 10 ** Math.floor(Math.log10(max));
  return Math.ceil(max / step) * step;
}

function drawChart(months, holder) {
  const groupWidth = SERIES.length * (BAR + GAP) - GAP;
  const width = LEFT + months.length * (groupWidth + MONTH_GAP) + MONTH_GAP;
  const height = TOP + PLOT_HEIGHT + BOTTOM;
  const max = Math.max(0, ...months.flatMap((m) => SERIES.map((s) => s.value(m))));
  const top = niceTop(max);
  const scale = PLOT_HEIGHT / top; // units of height per count, the same for every bar
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-labelledby": "aud-chart-title",
    class: "aud-bars",
    "data-scale": scale,
  });
  const title = svg("title", { id: "aud-chart-title" });
  title.textContent = "Transparency report by month: requests received and granted, overrides, packages released";
  chart.append(title);
  const baseline = TOP + PLOT_HEIGHT;
  for (const tick of [0, top / 2, top]) {
    const y = baseline - tick * scale;
    chart.append(svg("line", { x1: LEFT - 4, x2: width, y1: y, y2: y, stroke: "#d0d7de", "stroke-width": 1 }));
    const label = svg("text", { x: LEFT - 6, y: y + 4, "text-anchor": "end", "font-size": 10, fill: "#57606a" });
    label.textContent = Number.isInteger(tick) ? String(tick) : tick.toFixed(1);
    chart.append(label);
  }
  months.forEach((month, i) => {
    const x0 = LEFT + MONTH_GAP + i * (groupWidth + MONTH_GAP);
    SERIES.forEach((series, j) => {
      const value = series.value(month);
      const barHeight = value * scale;
      const bar = svg("rect", {
        x: x0 + j * (BAR + GAP),
        y: baseline - barHeight,
        width: BAR,
        height: barHeight,
        fill: series.colour,
        class: "aud-bar",
        "data-month": month.month,
        "data-series": series.key,
        "data-value": value,
      });
      const tip = svg("title", {});
      tip.textContent = `${month.month}, ${series.label}: ${value}`;
      bar.append(tip);
      chart.append(bar);
    });
    const label = svg("text", {
      x: x0 + groupWidth / 2,
      y: baseline + 16,
      "text-anchor": "middle",
      "font-size": 11,
      fill: "#1b1f24",
    });
    label.textContent = month.month;
    chart.append(label);
  });
  holder.replaceChildren(chart);
}

function drawLegend(legend) {
  legend.replaceChildren(
    ...SERIES.map((series) => {
      const item = document.createElement("span");
      const swatch = document.createElement("span");
      swatch.className = "aud-swatch";
      swatch.style.background = series.colour;
      item.append(swatch, series.label);
      return item;
    }),
  );
}

// One row per count, one column per month and the total: every number the report holds.
function drawTable(report, table) {
  const head = document.createElement("thead");
  const headRow = document.createElement("tr");
  headRow.append(text("th", "Count"));
  for (const month of report.months) headRow.append(text("th", month.month, "num"));
  headRow.append(text("th", "Total", "num"));
  for (const th of headRow.children) th.scope = "col";
  head.append(headRow);
  const body = document.createElement("tbody");
  for (const [group, counts] of Object.entries(report.totals)) {
    const groupRow = document.createElement("tr");
    groupRow.className = "group";
    const groupCell = text("th", GROUP_NAMES[group] ?? group);
    groupCell.colSpan = report.months.length + 2;
    groupCell.scope = "colgroup";
    groupRow.append(groupCell);
    body.append(groupRow);
    for (const key of Object.keys(counts)) {
      const row = document.createElement("tr");
      const name = text("th", key.replaceAll("_", " "));
      name.scope = "row";
      row.append(name);
      const columns = [...report.months.map((m) => [m.month, m[group][key]]), ["total", counts[key]]];
      for (const [column, value] of columns) {
        const td = text("td", String(value), "num");
        td.dataset.key = `${group}.${key}`;
        td.dataset.month = column;
        row.append(td);
      }
      body.append(row);
    }
  }
  table.replaceChildren(head, body);
}

export function drawReport(report, chartHolder, legend, table) {
  drawChart(report.months, chartHolder);
  drawLegend(legend);
  drawTable(report, table);
}
