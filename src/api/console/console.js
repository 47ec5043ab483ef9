// The Meridian web console: one page that polls the serving node's JSON API (docs/api.md)
// every REFRESH_MS and draws what it answers. Plain JavaScript, no libraries, nothing fetched
// from anywhere but this node. The token (when the node has users) stays in sessionStorage and
// is sent as "Authorization: Bearer" on every request; the server decides what a user may do.
"use strict";

const REFRESH_MS = 2000;
const HISTORY_MS = 10 * 60 * 1000; // request-rate history kept per node
const CHART_MS_MIN = 60 * 1000; // the shortest time a chart spans
const TOKEN_KEY = "meridian-console-token";
const BUCKETS_KEY = "meridian-console-buckets";
const SVG_NS = "http://www.w3.org/2000/svg";
const DASH = "—"; // shown for what the node did not report
const QUORUM_PROPERTIES = ["r", "w", "pr", "pw", "dw"];

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  memberIds: [], // sorted member ids: a member's colour is its index here
  history: new Map(), // node id -> [{time, perSecond, p99}]
  previousMetrics: null, // {time, totals} of the serving node's last /metrics scrape
  buckets: storedBuckets(),
  editing: null, // {bucket, props} the edit form was filled from
  timer: null,
  refreshing: false, // a refresh is waiting for answers: the next tick skips
  ringDrawn: "", // what the ring picture shows (redrawn only when that changes)
};

// The buckets this tab has opened, "default" first.
function storedBuckets() {
  try {
    const buckets = JSON.parse(sessionStorage.getItem(BUCKETS_KEY) || "[]");
    if (Array.isArray(buckets) && buckets.length) return buckets.map(String);
  } catch (ignored) {
    // not ours or damaged: start again
  }
  return ["default"];
}

// --- small helpers --------------------------------------------------------------------------

function $(id) {
  return document.getElementById(id);
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function svg(tag, attributes) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  return node;
}

function cell(row, value, numeric) {
  const td = element("td", value === undefined || value === null ? DASH : value);
  if (numeric) td.classList.add("number");
  row.appendChild(td);
  return td;
}

function formatBytes(bytes) {
  if (bytes === undefined || bytes === null) return DASH;
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return (unit === 0 ? value : value.toFixed(1)) + " " + units[unit];
}

function formatNumber(value, digits) {
  if (value === undefined || value === null || Number.isNaN(value)) return DASH;
  return Number(value).toFixed(digits);
}

// A member's colour: evenly spread hues in the order of the sorted member ids.
function memberColour(id) {
  const index = state.memberIds.indexOf(id);
  if (index < 0) return "#999999";
  return "hsl(" + Math.round((index * 360) / Math.max(state.memberIds.length, 1)) + ", 65%, 48%)";
}

function zoneColour(zone, zones) {
  const index = zones.indexOf(zone);
  return "hsl(" + Math.round((index * 360) / Math.max(zones.length, 1) + 30) + ", 55%, 62%)";
}

function swatch(colour) {
  const box = svg("svg", {width: "12", height: "12", class: "swatch"});
  box.appendChild(svg("rect", {width: "12", height: "12", rx: "2", fill: colour}));
  return box;
}

// --- the API --------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(status + " " + code + ": " + message);
    this.status = status;
  }
}

// fetch() of this node with the token. Resolves to the Response for any status but 401, which
// shows the sign-in form and rejects. `expected` lists the statuses that are not errors.
async function api(path, options, expected) {
  const request = Object.assign({}, options || {});
  request.headers = Object.assign({}, request.headers || {});
  if (state.token) request.headers["Authorization"] = "Bearer " + state.token;
  request.cache = "no-store";
  const response = await fetch(path, request);
  if (response.status === 401) {
    showLogin(state.token ? "The token was not accepted; enter another one." : null);
    throw await apiError(response);
  }
  if (!(expected || [200]).includes(response.status)) throw await apiError(response);
  return response;
}

async function apiError(response) {
  let code = response.statusText;
  let message = "";
  try {
    const body = await response.json();
    code = body.error || code;
    message = body.message || "";
  } catch (ignored) {
    // not a JSON error body: the status line says enough
  }
  return new ApiError(response.status, code, message);
}

async function getJson(path) {
  return (await api(path)).json();
}

// --- sign-in --------------------------------------------------------------------------------

function showLogin(message) {
  stopRefresh();
  $("console").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  if (message) $("login-message").textContent = message;
  $("refresh-state").textContent = "signed out";
  $("token-input").focus();
}

function onLogin(event) {
  event.preventDefault();
  state.token = $("token-input").value.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $("token-input").value = "";
  $("login").hidden = true;
  startRefresh();
}

function onLogout() {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = "";
  showLogin("Token forgotten.");
}

// --- prometheus text of the serving node ----------------------------------------------------

// {name: [{labels: {...}, value}]} of the sample lines of a Prometheus text exposition.
function parseMetrics(text) {
  const series = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const pair of (match[2] || "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]] = pair[2];
    }
    (series[match[1]] = series[match[1]] || []).push({labels, value: Number(match[3])});
  }
  return series;
}

function metricValue(series, name) {
  const samples = series[name];
  if (!samples) return null;
  return samples.reduce((sum, sample) => sum + sample.value, 0);
}

// Cumulative request counts of every operation: {count, errors, buckets: {le: count}}.
function requestTotals(series) {
  const buckets = {};
  for (const sample of series["meridian_request_duration_seconds_bucket"] || []) {
    const le = sample.labels.le;
    buckets[le] = (buckets[le] || 0) + sample.value;
  }
  let count = 0;
  let errors = 0;
  for (const sample of series["meridian_requests_total"] || []) {
    count += sample.value;
    if (Number(sample.labels.status) >= 500) errors += sample.value;
  }
  return {count, errors, buckets};
}

// The q-quantile in milliseconds of the requests between two cumulative histograms, linear
// within a bucket (as Prometheus' histogram_quantile); null without requests.
function quantileMs(before, after, q) {
  const bounds = Object.keys(after.buckets)
    .filter((le) => le !== "+Inf")
    .sort((a, b) => Number(a) - Number(b));
  const delta = (le) => (after.buckets[le] || 0) - (before.buckets[le] || 0);
  const total = delta("+Inf");
  if (!(total > 0)) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const le of bounds) {
    const bound = Number(le);
    const count = delta(le); // cumulative: requests that took at most `bound` seconds
    if (count >= rank) {
      const share = count === below ? 1 : (rank - below) / (count - below);
      return (lower + (bound - lower) * share) * 1000;
    }
    lower = bound;
    below = count;
  }
  return lower * 1000; // beyond the largest finite bucket
}

// What the serving node's /metrics says in the shape of a member report (only what it can).
function reportFromMetrics(series, now) {
  const totals = requestTotals(series);
  const report = {
    disk: {
      used_bytes: metricValue(series, "meridian_rocksdb_live_sst_bytes"),
      available_bytes: metricValue(series, "meridian_storage_free_bytes"),
      capacity_bytes: metricValue(series, "meridian_storage_size_bytes"),
    },
    hints: {
      pending: metricValue(series, "meridian_hints_pending"),
      bytes: metricValue(series, "meridian_hint_bytes"),
    },
    anti_entropy: {
      exchanges: metricValue(series, "meridian_aae_exchanges_total"),
      exchanges_failed: metricValue(series, "meridian_aae_exchanges_failed_total"),
      keys_repaired: metricValue(series, "meridian_aae_keys_received_total"),
    },
    transfers_running: metricValue(series, "meridian_partition_transfers"),
    requests: null,
  };
  const previous = state.previousMetrics;
  if (previous && now > previous.time) {
    const seconds = (now - previous.time) / 1000;
    report.requests = {
      window_seconds: Math.round(seconds),
      per_second: (totals.count - previous.totals.count) / seconds,
      errors_per_second: (totals.errors - previous.totals.errors) / seconds,
      p50_ms: quantileMs(previous.totals, totals, 0.5),
      p99_ms: quantileMs(previous.totals, totals, 0.99),
    };
  }
  state.previousMetrics = {time: now, totals};
  return report;
}

// --- refresh --------------------------------------------------------------------------------

function startRefresh() {
  stopRefresh();
  refresh();
  state.timer = setInterval(refresh, REFRESH_MS);
}

function stopRefresh() {
  if (state.timer !== null) clearInterval(state.timer);
  state.timer = null;
}

async function refresh() {
  if (state.refreshing) return;
  state.refreshing = true;
  try {
    await refreshOnce();
  } finally {
    state.refreshing = false;
  }
}

async function refreshOnce() {
  let status;
  let ring;
  try {
    [status, ring] = await Promise.all([
      getJson("/v1/cluster/status"),
      getJson("/v1/cluster/ring?partitions=true"),
    ]);
  } catch (error) {
    if (error.status !== 401) $("refresh-state").textContent = "refresh failed: " + error.message;
    return;
  }
  let metricsReport = null;
  try {
    const text = await (await api("/metrics")).text();
    metricsReport = reportFromMetrics(parseMetrics(text), Date.now());
  } catch (error) {
    metricsReport = null; // /metrics refused or unreachable: the members' reports alone then
  }
  $("login").hidden = true;
  $("console").hidden = false;
  $("logout").hidden = !state.token;
  state.memberIds = status.members.map((member) => member.id).sort();
  const reports = new Map();
  for (const member of status.members) {
    if (member.report) reports.set(member.id, {source: "report", report: member.report});
    else if (member.id === status.self && metricsReport)
      reports.set(member.id, {source: "/metrics", report: metricsReport});
  }
  recordHistory(reports, Date.now());
  $("cluster-name").textContent = "cluster " + status.cluster_name;
  $("serving-node").textContent = "served by " + status.self;
  drawRing(ring, status);
  drawMembers(status, reports);
  drawActivity(status, reports);
  drawRequests(status, reports);
  await refreshBuckets();
  $("refresh-state").textContent = "updated " + new Date().toLocaleTimeString();
}

// --- ring -----------------------------------------------------------------------------------

// An annulus sector from angle a0 to a1 (radians, 0 at the top, clockwise).
function arcPath(cx, cy, inner, outer, a0, a1) {
  const point = (radius, angle) =>
    (cx + radius * Math.sin(angle)).toFixed(2) + " " + (cy - radius * Math.cos(angle)).toFixed(2);
  const large = a1 - a0 > Math.PI ? 1 : 0;
  return ["M", point(outer, a0), "A", outer, outer, 0, large, 1, point(outer, a1),
    "L", point(inner, a1), "A", inner, inner, 0, large, 0, point(inner, a0), "Z"].join(" ");
}

function drawRing(ring, status) {
  const drawn = JSON.stringify([ring.version, ring.partitions, state.memberIds,
    status.members.map((member) => member.zone)]);
  if (drawn === state.ringDrawn) return;
  state.ringDrawn = drawn;
  const zoneOf = new Map(status.members.map((member) => [member.id, member.zone || ""]));
  const zones = [...new Set(status.members.map((member) => member.zone || ""))].sort();
  const partitions = ring.partitions || [];
  const count = partitions.length;
  const picture = svg("svg", {viewBox: "0 0 320 320", id: "ring-svg", role: "img"});
  picture.appendChild(svg("title")).textContent =
    count + " partitions: outer ring by owner, inner ring by the owner's zone";
  const step = (2 * Math.PI) / Math.max(count, 1);
  let pending = 0;
  for (const partition of partitions) {
    const a0 = partition.partition * step;
    const a1 = a0 + step;
    const owner = svg("path", {
      d: arcPath(160, 160, 100, 140, a0, a1),
      fill: memberColour(partition.owner),
      class: "arc",
      "data-partition": partition.partition,
      "data-owner": partition.owner,
    });
    owner.appendChild(svg("title")).textContent = "partition " + partition.partition + ": " +
      partition.owner + (partition.pending_owner ? " → " + partition.pending_owner : "");
    picture.appendChild(owner);
    picture.appendChild(svg("path", {
      d: arcPath(160, 160, 84, 98, a0, a1),
      fill: zoneColour(zoneOf.get(partition.owner) || "", zones),
      class: "zone-arc",
    }));
    if (partition.pending_owner) {
      pending += 1;
      picture.appendChild(svg("path", {
        d: arcPath(160, 160, 143, 155, a0, a1),
        fill: memberColour(partition.pending_owner),
        class: "pending-arc",
      }));
    }
  }
  const centre = svg("text", {x: "160", y: "165", "text-anchor": "middle", "font-size": "16"});
  centre.textContent = "v" + ring.version;
  picture.appendChild(centre);
  $("ring").replaceChildren(picture);
  $("ring-summary").textContent = count + " partitions, ring version " + ring.version + ", " +
    (pending ? pending + " moving (outer marks: to whom)" : "no moves pending");

  const owned = new Map();
  for (const partition of partitions) {
    owned.set(partition.owner, (owned.get(partition.owner) || 0) + 1);
  }
  const legend = [];
  for (const zone of zones) {
    const heading = element("h3", zone ? "zone " + zone : "no zone");
    heading.prepend(swatch(zoneColour(zone, zones)));
    const list = element("ul");
    for (const member of status.members.filter((m) => (m.zone || "") === zone)) {
      const share = count ? (100 * (owned.get(member.id) || 0)) / count : 0;
      const item = element("li", member.id + ": " + (owned.get(member.id) || 0) + " partitions (" +
        share.toFixed(1) + "%)");
      item.prepend(swatch(memberColour(member.id)));
      list.appendChild(item);
    }
    legend.push(heading, list);
  }
  $("ring-legend").replaceChildren(...legend);
}

// --- members and activity -------------------------------------------------------------------

function drawMembers(status, reports) {
  const rows = status.members.map((member) => {
    const row = element("tr");
    row.dataset.member = member.id;
    if (!member.alive) row.classList.add("dead");
    const id = cell(row, member.id + (member.id === status.self ? " (this node)" : ""));
    id.prepend(swatch(memberColour(member.id)));
    cell(row, member.zone || DASH).classList.add("zone");
    cell(row, member.status).classList.add("status");
    cell(row, member.alive ? "yes" : "no").classList.add("alive");
    cell(row, formatNumber(member.phi, 2), true);
    cell(row, member.weight, true).classList.add("weight");
    cell(row, member.partitions_owned, true).classList.add("owned");
    cell(row, member.partitions_incoming, true).classList.add("incoming");
    const disk = reports.has(member.id) ? reports.get(member.id).report.disk || {} : {};
    cell(row, formatBytes(disk.used_bytes), true).classList.add("disk-used");
    cell(row, formatBytes(disk.available_bytes), true);
    cell(row, member.http_address || DASH);
    cell(row, member.peer_address || DASH);
    return row;
  });
  $("members").tBodies[0].replaceChildren(...rows);
}

function drawActivity(status, reports) {
  const rows = [];
  const transfers = [];
  for (const member of status.members) {
    const entry = reports.get(member.id);
    const report = entry ? entry.report : {};
    const hints = report.hints || {};
    const aae = report.anti_entropy || {};
    const row = element("tr");
    row.dataset.member = member.id;
    cell(row, member.id);
    cell(row, hints.pending, true).classList.add("hints-pending");
    cell(row, hints.bytes === undefined ? null : formatBytes(hints.bytes), true);
    cell(row, aae.exchanges, true);
    cell(row, aae.exchanges_failed, true);
    cell(row, aae.keys_repaired, true);
    if (Array.isArray(report.transfers)) {
      cell(row, report.transfers.length, true);
      for (const transfer of report.transfers) transfers.push([member.id, transfer]);
    } else if (report.transfers_running !== undefined && report.transfers_running !== null) {
      cell(row, report.transfers_running + " (no details without the member report)", true);
    } else {
      cell(row, null, true);
    }
    rows.push(row);
  }
  $("activity").tBodies[0].replaceChildren(...rows);
  if (!transfers.length) {
    $("transfers").replaceChildren(element("p", "none running", "muted"));
    return;
  }
  $("transfers").replaceChildren(...transfers.map(([node, transfer]) => {
    const line = element("div", null, "transfer");
    const bar = element("progress");
    bar.max = Math.max(transfer.bytes_total || 0, 1);
    bar.value = Math.min(transfer.bytes_done || 0, bar.max);
    const eta = transfer.eta_seconds === null || transfer.eta_seconds === undefined
      ? "ETA " + DASH : "ETA " + Math.ceil(transfer.eta_seconds) + " s";
    line.append(
      element("span", "partition " + transfer.partition + " (" + transfer.kind + ") " + node +
        " → " + transfer.peer + " "),
      bar,
      element("span", " " + formatBytes(transfer.bytes_done) + " of " +
        formatBytes(transfer.bytes_total) + ", " + transfer.objects_done + " objects, " +
        formatBytes(transfer.bytes_per_second) + "/s, " + eta));
    return line;
  }));
}

// --- requests -------------------------------------------------------------------------------

function recordHistory(reports, now) {
  for (const [id, entry] of reports) {
    const requests = entry.report.requests;
    if (!requests) continue;
    const points = state.history.get(id) || [];
    points.push({time: now, perSecond: requests.per_second, p99: requests.p99_ms});
    while (points.length && points[0].time < now - HISTORY_MS) points.shift();
    state.history.set(id, points);
  }
}

function drawRequests(status, reports) {
  const rows = status.members.map((member) => {
    const entry = reports.get(member.id);
    const requests = entry && entry.report.requests ? entry.report.requests : {};
    const row = element("tr");
    row.dataset.member = member.id;
    const id = cell(row, member.id);
    id.prepend(swatch(memberColour(member.id)));
    cell(row, formatNumber(requests.per_second, 1), true).classList.add("rate");
    cell(row, formatNumber(requests.errors_per_second, 2), true);
    cell(row, formatNumber(requests.p50_ms, 2), true);
    cell(row, formatNumber(requests.p99_ms, 2), true);
    cell(row, entry ? entry.source : DASH);
    return row;
  });
  $("requests").tBodies[0].replaceChildren(...rows);
  $("rate-chart").replaceChildren(chart((point) => point.perSecond));
  $("p99-chart").replaceChildren(chart((point) => point.p99));
}

// A line per node of `value(point)`, scaled to the largest value, over the history kept:
// the last HISTORY_MS, or less (at least CHART_MS_MIN) while the page has been open shorter.
function chart(value) {
  const width = 420;
  const height = 140;
  const picture = svg("svg", {viewBox: "0 0 " + width + " " + height});
  const now = Date.now();
  let top = 0;
  let oldest = now;
  for (const points of state.history.values()) {
    for (const point of points) {
      top = Math.max(top, value(point) || 0);
      oldest = Math.min(oldest, point.time);
    }
  }
  const span = Math.min(Math.max(now - oldest, CHART_MS_MIN), HISTORY_MS);
  top = top > 0 ? top * 1.1 : 1;
  for (const [id, points] of state.history) {
    const coordinates = points
      .filter((point) => value(point) !== null && value(point) !== undefined)
      .map((point) => {
        const x = width - ((now - point.time) / span) * width;
        const y = height - (value(point) / top) * (height - 10);
        return x.toFixed(1) + "," + y.toFixed(1);
      });
    if (coordinates.length < 2) continue; // a line needs two points
    picture.appendChild(svg("polyline", {
      points: coordinates.join(" "),
      fill: "none",
      stroke: memberColour(id),
      "stroke-width": "2",
    }));
  }
  const label = svg("text", {x: "4", y: "12", "font-size": "11", fill: "#66707a"});
  label.textContent = "max " + (top / 1.1).toFixed(2) + ", last " + Math.round(span / 1000) + " s";
  picture.appendChild(label);
  return picture;
}

// --- buckets --------------------------------------------------------------------------------

// The cluster's configured buckets (GET /v1/buckets: those this user may read), then any
// other bucket this tab opened, which has the defaults.
async function refreshBuckets() {
  let listed = [];
  let defaults = null;
  let failure = null;
  try {
    const body = await getJson("/v1/buckets");
    listed = body.buckets;
    defaults = body.defaults;
  } catch (error) {
    failure = error;
  }
  const names = new Set(listed.map((entry) => entry.bucket));
  const opened = state.buckets.filter((bucket) => !names.has(bucket));
  const entries = listed.concat(opened.map((bucket) => (
    defaults ? {bucket, props: defaults, sealed: false, configured: false} : {bucket, error: failure}
  )));
  const rows = entries.map((entry) => {
    const row = element("tr");
    row.dataset.bucket = entry.bucket;
    const name = element("a", entry.bucket);
    name.href = "#bucket-form";
    name.addEventListener("click", (event) => {
      event.preventDefault();
      openBucket(entry.bucket);
    });
    row.appendChild(element("td")).appendChild(name);
    if (entry.error) {
      const td = cell(row, entry.error.message);
      td.colSpan = 11;
      td.classList.add("error");
      return row;
    }
    for (const property of ["consistency", "conflict_policy", "n", ...QUORUM_PROPERTIES,
      "sloppy_quorum"]) {
      cell(row, entry.props[property]).classList.add("prop-" + property);
    }
    cell(row, entry.sealed ? "sealed" : "no");
    cell(row, entry.configured ? "yes" : "defaults").classList.add("configured");
    return row;
  });
  $("buckets").tBodies[0].replaceChildren(...rows);
  $("buckets-count").textContent = failure
    ? "the list failed: " + failure.message
    : listed.length + " configured bucket" + (listed.length === 1 ? "" : "s");
}

async function openBucket(bucket) {
  const message = $("bucket-message");
  message.textContent = "";
  message.className = "";
  let body;
  try {
    body = await getJson("/v1/buckets/" + encodeURIComponent(bucket));
  } catch (error) {
    message.textContent = error.message;
    message.className = "error";
    return;
  }
  if (!state.buckets.includes(bucket)) {
    state.buckets.push(bucket);
    sessionStorage.setItem(BUCKETS_KEY, JSON.stringify(state.buckets));
  }
  state.editing = {bucket, props: body.props};
  const form = $("bucket-form");
  for (const [property, value] of Object.entries(body.props)) {
    if (form.elements[property]) form.elements[property].value = String(value);
  }
  $("bucket-form-name").textContent = bucket;
  form.hidden = false;
  await refreshBuckets();
}

// A quorum value as the API takes it: a number, or a symbol ("one", "quorum", "all").
function quorumValue(text) {
  return /^\d+$/.test(text) ? Number(text) : text;
}

async function onBucketSave(event) {
  event.preventDefault();
  const message = $("bucket-message");
  const form = $("bucket-form");
  const {bucket, props} = state.editing;
  const changes = {};
  for (const property of Object.keys(props)) {
    const input = form.elements[property];
    if (!input || input.value === String(props[property])) continue;
    if (property === "n") changes.n = Number(input.value);
    else if (property === "sloppy_quorum") changes.sloppy_quorum = input.value === "true";
    else if (QUORUM_PROPERTIES.includes(property))
      changes[property] = quorumValue(input.value.trim());
    else changes[property] = input.value;
  }
  if (!Object.keys(changes).length) {
    message.textContent = "nothing changed";
    message.className = "muted";
    return;
  }
  try {
    const response = await api("/v1/buckets/" + encodeURIComponent(bucket), {
      method: "PUT",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(changes),
    });
    const body = await response.json();
    state.editing = {bucket, props: body.props};
    message.textContent = "saved: " + JSON.stringify(changes);
    message.className = "ok";
  } catch (error) {
    message.textContent = error.status === 403
      ? "refused: " + error.message + " — editing buckets needs an admin token"
      : "not saved: " + error.message;
    message.className = "error";
  }
  await refreshBuckets();
}

// --- object viewer --------------------------------------------------------------------------

// Bytes as text when they are UTF-8, else as base64.
function showBytes(bytes) {
  try {
    return new TextDecoder("utf-8", {fatal: true}).decode(bytes);
  } catch (ignored) {
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return "base64: " + btoa(binary);
  }
}

function base64Bytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function sibling(value, timestampMs) {
  const item = element("li");
  if (timestampMs !== null) {
    item.appendChild(element("span", "written " + new Date(timestampMs).toISOString(), "muted"));
  }
  item.appendChild(element("pre", showBytes(value)));
  return item;
}

async function onObjectGet(event) {
  event.preventDefault();
  const bucket = $("object-bucket").value.trim();
  const key = $("object-key").value;
  const path = encodeURIComponent(bucket) + "/" + encodeURIComponent(key);
  const siblings = $("object-siblings");
  $("object-result").hidden = false;
  siblings.replaceChildren();
  $("object-context").textContent = "";
  $("object-receipt").replaceChildren();
  $("object-location").textContent = "";
  let response;
  try {
    response = await api("/v1/kv/" + path, {}, [200, 300, 404]);
  } catch (error) {
    $("object-status").textContent = error.message;
    $("object-status").className = "error";
    return;
  }
  $("object-status").className = "";
  $("object-context").textContent = response.headers.get("X-Meridian-Context") || DASH;
  const receipt = response.headers.get("X-Meridian-Consistency");
  $("object-receipt").replaceChildren(receiptTable(receipt));
  if (response.status === 200) {
    const value = new Uint8Array(await response.arrayBuffer());
    $("object-status").textContent = "200: one value";
    siblings.appendChild(sibling(value, null));
  } else if (response.status === 300) {
    const body = await response.json();
    $("object-status").textContent =
      "300: " + body.siblings.length + " siblings (concurrent writes)";
    for (const entry of body.siblings) {
      siblings.appendChild(sibling(base64Bytes(entry.value), entry.timestamp_ms));
    }
  } else {
    $("object-status").textContent = "404: not found" +
      (response.headers.get("X-Meridian-Context") ? " (deleted; the context remains)" : "");
  }
  try {
    const where = await getJson("/v1/cluster/locate/" + path);
    $("object-location").textContent = "partition " + where.partition + ", owner " + where.owner +
      (where.pending_owner ? " (moving to " + where.pending_owner + ")" : "") + "; primaries " +
      where.primaries.join(", ") + "; fallbacks " + (where.fallbacks.join(", ") || DASH);
  } catch (error) {
    $("object-location").textContent = error.message;
  }
}

// "n=3; r=2; replies=2; ..." as a one-row table, the header itself kept as the title.
function receiptTable(header) {
  if (!header) return element("span", DASH);
  const table = element("table");
  table.id = "receipt-table";
  table.title = header;
  const names = element("tr");
  const values = element("tr");
  for (const field of header.split(";")) {
    const [name, value] = field.trim().split("=");
    names.appendChild(element("th", name));
    const td = element("td", value, "number");
    td.dataset.field = name;
    values.appendChild(td);
  }
  table.append(names, values);
  return table;
}

// --- start ----------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", onLogout);
  $("bucket-open").addEventListener("submit", (event) => {
    event.preventDefault();
    openBucket($("bucket-name").value.trim());
  });
  $("bucket-form").addEventListener("submit", onBucketSave);
  $("object-form").addEventListener("submit", onObjectGet);
  startRefresh();
});
