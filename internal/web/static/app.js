"use strict";
// Highway's dashboard: everything here comes from real requests to this
// server. No framework, no build step, no other host.

const $ = (id) => document.getElementById(id);
const ms = (v) => (v == null ? "–" : v.toFixed(1) + " ms");
let routes = [];
let lastRuns = {}; // the last report of each mode on the current route, for the comparison

// api is fetch with the caller's API key, when the server asks for one
// (clients: in its config). The key lives in this tab's sessionStorage
// only; a 401 shows the form to enter it.
async function api(url, init = {}) {
  const key = sessionStorage.getItem("highway-key");
  const headers = Object.assign({}, init.headers || {}, key ? { Authorization: "Bearer " + key } : {});
  // Every answer is a measurement: never from, nor queued behind, the
  // browser's cache (Chrome makes identical GETs wait for the first's
  // headers otherwise, which a report sends only when it is done).
  const resp = await fetch(url, Object.assign({ cache: "no-store" }, init, { headers }));
  if (resp.status === 401) {
    $("key-form").hidden = false;
    $("key").focus();
  }
  return resp;
}

async function saveKey(e) {
  e.preventDefault();
  sessionStorage.setItem("highway-key", $("key").value.trim());
  $("key").value = "";
  $("key-form").hidden = true;
  await loadRoutes();
}

// sse reads a text/event-stream with fetch, calling on(type, data) per
// event; a non-stream answer (a JSON error) rejects with its message.
async function sse(url, on, signal) {
  const resp = await api(url, { headers: { Accept: "text/event-stream" }, signal });
  if (!resp.ok || !(resp.headers.get("Content-Type") || "").startsWith("text/event-stream")) {
    let msg = resp.status + " " + resp.statusText;
    try { msg = (await resp.json()).error || msg; } catch (e) {}
    throw new Error(msg);
  }
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i); buf = buf.slice(i + 2);
      let type = "message", data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) on(type, JSON.parse(data.join("\n")));
    }
  }
}

// Tabs, usable with the keyboard: arrows move between them, Home and End
// go to the first and the last.
function setupTabs() {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  const show = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", on);
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
    if (tab.id === "tab-health") refreshHealth();
    if (tab.id === "tab-door") refreshDoor();
  };
  tabs.forEach((t, i) => {
    t.addEventListener("click", () => show(t));
    t.addEventListener("keydown", (e) => {
      const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      const n = tabs[(to + tabs.length) % tabs.length];
      n.focus();
      show(n);
    });
  });
  show(tabs[0]);
}

// busy disables a button while work runs, and gives the focus back to it
// afterwards if it had it: a disabled button drops the focus to the body.
async function busy(button, work) {
  const had = document.activeElement === button;
  button.disabled = true;
  try {
    return await work();
  } finally {
    button.disabled = false;
    if (had || document.activeElement === document.body) button.focus();
  }
}

// el makes an element with a class and text: the page builds its markup
// with the DOM, never with style attributes (its CSP allows none).
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

async function loadRoutes() {
  const resp = await api("/highway/routes");
  if (!resp.ok) return;
  const r = await resp.json();
  routes = (r.routes || []).filter((x) => x.method === "GET");
  for (const sel of [$("route"), $("race-route"), $("surge-route")]) {
    sel.replaceChildren(...routes.map((x) => el("option", "", x.path)));
  }
  $("surge-users").max = r.surge.max_users;
  $("surge-users").value = Math.min(1000, r.surge.max_users);
  $("surge-seconds").max = Math.floor(r.surge.max_duration_s);
  $("surge-seconds").value = Math.min(10, Math.floor(r.surge.max_duration_s));
  $("surge-users-label").textContent = `Users (1–${r.surge.max_users})`;
  $("surge-seconds-label").textContent = `Seconds (1–${Math.floor(r.surge.max_duration_s)})`;
  routeChanged();
}

const currentRoute = () => routes.find((x) => x.path === $("route").value);

// routeChanged clears the last route's board and offers the new route's
// own parameters, with their defaults.
function routeChanged() {
  const route = currentRoute();
  $("board").replaceChildren();
  $("chat").textContent = "";
  $("lanes-status").textContent = "";
  for (const mode of ["sequential", "concurrent", "lanes"]) { // the totals were the last route's
    for (const col of ["total", "sum", "slowest"]) {
      $(col + "-" + mode).textContent = "–";
      delete $(col + "-" + mode).dataset.ms;
    }
  }
  $("label-lanes").textContent = "Lanes";
  lastRuns = {};
  drawCompare();
  if (route) drawCode(route);
  const params = Object.entries((route && route.params) || {});
  $("params").replaceChildren(...params.map(([name, p]) => {
    const label = el("label", "", name + " ");
    const input = el("input");
    input.name = name;
    input.dataset.param = name;
    input.size = 10;
    const def = p.default;
    if (def != null && def !== "[redacted]") input.value = def;
    if (def == null) input.required = true;
    label.append(input);
    return label;
  }));
}

function paramQuery() {
  const q = new URLSearchParams();
  for (const input of document.querySelectorAll("#params input")) {
    if (input.value !== "") q.set(input.dataset.param, input.value);
  }
  return q;
}

// Popy says what the lanes show, as the seed does.
const popy = {
  sequential: "One lane means everyone waits in line. Even a quick weather request has to sit behind slow image generation!",
  concurrent: "Every request gets its own lane: the city answers in the time of its slowest source, not the sum.",
  lanes: "A few lanes: at most that many sources on the road at once; the others wait at the on-ramp for a lane to free.",
};

// icon is a district's picture, by its name.
function icon(name) {
  for (const [k, v] of [["weather", "☀️"], ["image", "🎨"], ["chat", "💬"], ["search", "🔎"], ["brief", "📰"]]) {
    if (name.includes(k)) return v;
  }
  return "🚚";
}

// The keywords of the Go snippet, as Popy explains them.
const keywords = {
  "go": "go starts a goroutine: its own lane. Starting one costs about a microsecond, so every source of every request gets one.",
  "ctx": "ctx carries the request's deadline and its cancellation to every lane: when the caller leaves, every upstream call stops.",
  "select": "select waits for whichever comes first: the answer, or ctx.Done(). A lane that ignores ctx (time.Sleep) cannot be cut off: the Go version of the seed's pitfall.",
  "fanout.Gather": "fanout.Gather sends every task to its own lane at once and returns when the slowest lands: the foreman, like asyncio.gather.",
};

// drawCode writes the route's fan-out as Go, its keywords focusable.
function drawCode(route) {
  const code = $("code");
  const parts = [];
  const text = (t) => parts.push(document.createTextNode(t));
  const kw = (k, shown = k) => {
    const span = el("span", "kw", shown);
    span.tabIndex = 0;
    span.dataset.kw = k;
    parts.push(span);
  };
  text("tasks := []fanout.Task[Answer]{\n");
  for (const name of route.sources) text(`\t{Name: "${name}", Source: ${name.replace(/[^A-Za-z0-9]/g, "_")}},\n`);
  text("}\n// each task on its own lane; the report waits for the slowest\nrep := ");
  kw("fanout.Gather");
  text("(");
  kw("ctx");
  text(", tasks, fanout.Options{})\n\n// inside, for each task:\n");
  kw("go");
  text(" func() { results <- t.Source.Fetch(");
  kw("ctx");
  text(", needs) }()\n\n// a source that honours its context:\nfunc weather(");
  kw("ctx");
  text(" context.Context, _ map[string]Answer) (Answer, error) {\n\t");
  kw("select");
  text(" {\n\tcase <-time.After(300 * time.Millisecond): // the district's work\n\t\treturn Answer{\"sky\": \"clear\"}, nil\n\tcase <-");
  kw("ctx");
  text(".Done(): // the caller left, or the deadline passed\n\t\treturn nil, ctx.Err()\n\t}\n}");
  code.replaceChildren(...parts);
}

function explain(e) {
  const k = e.target.closest?.(".kw");
  if (k) $("code-tip").textContent = keywords[k.dataset.kw];
}

// Lanes: each source is a lane. It stays empty while it waits (for a lane
// or for its needs), its car grows from the moment the server says it
// started, and stops at its real start and end when it lands; at the
// end every car is placed on the report's own scale.
async function runLanes(e) {
  e.preventDefault();
  const route = currentRoute();
  if (!route) return;
  const choice = document.querySelector("input[name=mode]:checked").value;
  const q = paramQuery();
  if (choice === "lanes") {
    const raw = $("lane-count").value.trim();
    if (!/^[1-9][0-9]{0,3}$/.test(raw)) {
      $("lanes-status").textContent = `lanes must be a whole number from 1, got "${raw}"`;
      $("lane-count").focus();
      return;
    }
    q.set("lanes", raw);
  } else {
    q.set("mode", choice);
  }
  q.set("stream", "1");
  await busy($("run-lanes"), () => drive(route, choice, q));
}

async function drive(route, choice, q) {
  const board = $("board");
  const needs = route.needs || {};
  const lanes = {};
  board.replaceChildren(...route.sources.map((name) => {
    const row = el("div", "lane waiting");
    row.id = "lane-" + name;
    const car = el("div", "car");
    const track = el("div", "track");
    track.append(car);
    const info = el("span", "ms", needs[name] ? "waits for " + needs[name].join(", ") : "waiting for a lane");
    const label = el("span", "name", name);
    label.prepend(el("span", "icon", icon(name) + " "));
    row.append(label, track, info);
    lanes[name] = { row, car, info };
    return row;
  }));
  $("chat").textContent = "";
  $("lanes-status").textContent = "running " + route.path + "?" + q;
  const started = {}, landed = {};
  let scale = 1000, done = false, frame = 0;
  const t0 = performance.now();
  const place = (name, start, end) => {
    const car = lanes[name].car;
    car.style.left = (100 * start / scale) + "%";
    car.style.width = (100 * Math.max(end - start, 0) / scale) + "%";
  };
  const tick = () => {
    if (done) return;
    const now = performance.now() - t0;
    scale = Math.max(scale, now * 1.1);
    for (const name of route.sources) {
      if (landed[name]) place(name, landed[name].start_ms, landed[name].end_ms);
      else if (started[name] !== undefined) place(name, started[name], Math.max(now, started[name]));
    }
    frame = requestAnimationFrame(tick);
  };
  frame = requestAnimationFrame(tick);
  const finish = () => { done = true; cancelAnimationFrame(frame); };
  try {
    await sse(route.path + "?" + q, (type, d) => {
      const lane = lanes[d.name];
      if (type === "start" && lane) {
        started[d.name] = d.start_ms;
        lane.row.className = "lane running";
        lane.row.dataset.start = d.start_ms;
        lane.info.textContent = "running";
      }
      if (type === "delta") $("chat").textContent += d.text;
      if (type === "failover" && lane) {
        // The next provider's tokens start afresh: nothing of the failed
        // one's stream is mixed in.
        lane.info.textContent = d.hedge
          ? `${d.from} has no first token after ${ms(d.latency_ms)}: ${d.to} races it`
          : `${d.from} failed (${d.reason.replaceAll("_", " ")}): asking ${d.to}`;
        lane.row.dataset.failovers = (+(lane.row.dataset.failovers || 0) + 1);
        if (d.hedge) lane.row.dataset.hedged = d.to;
        else $("chat").textContent = "";
      }
      if (type === "source" && lane) {
        landed[d.name] = d;
        lane.row.className = "lane " + d.status;
        Object.assign(lane.row.dataset, { latency: d.latency_ms, start: d.start_ms, end: d.end_ms, status: d.status, reason: d.reason || "" });
        lane.info.textContent = d.status === "ok" ? ms(d.latency_ms) + (d.served_by ? " by " + d.served_by : "") : why(d);
        lane.info.title = d.error || "";
      }
      if (type === "report") {
        finish();
        scale = Math.max(d.total_ms, 1);
        for (const [name, s] of Object.entries(d.sources)) {
          if (lanes[name] && s.status !== "skipped") place(name, s.start_ms, s.end_ms);
        }
        lanes[d.slowest]?.row.classList.add("slowest");
        const key = choice;
        if (key === "lanes") $("label-lanes").textContent = "Lanes (" + q.get("lanes") + ")";
        $("total-" + key).textContent = ms(d.total_ms);
        $("total-" + key).dataset.ms = d.total_ms;
        $("sum-" + key).textContent = ms(d.sum_ms);
        $("sum-" + key).dataset.ms = d.sum_ms;
        $("slowest-" + key).textContent = (d.critical_path || []).join(" → ");
        lastRuns[key] = { label: key === "lanes" ? `${q.get("lanes")} lanes` : key === "sequential" ? "Single lane" : "Highway", report: d };
        drawCompare();
        if (choice === "sequential") {
          const slow = Object.entries(d.sources).sort((a, b) => b[1].latency_ms - a[1].latency_ms)[0];
          $("popy-says").textContent = `See how ${slow[0]} holds everyone back for ${ms(slow[1].latency_ms)}? On one lane the city took ${ms(d.total_ms)}, the sum of every lane. That's a city-wide traffic jam!`;
        } else if (choice === "concurrent") {
          $("popy-says").textContent = `Every lane at once: ${ms(d.total_ms)}, the time of ${d.slowest}, the slowest, instead of ${ms(d.sum_ms)} on one lane.`;
        }
        const status = $("lanes-status");
        status.textContent = `${d.complete ? "all lanes answered" : d.failed + " failed"} in ${ms(d.total_ms)} (one lane would take ${ms(d.sum_ms)})`;
        status.className = "status " + (d.complete ? "good" : "bad");
      }
    });
  } catch (err) {
    $("lanes-status").textContent = "error: " + err.message;
    $("lanes-status").className = "status bad";
  } finally {
    finish();
  }
}

// drawCompare draws the last run of each mode stacked on one time axis,
// the longest run's total as its end, so the difference is seen.
function drawCompare() {
  const modes = ["sequential", "concurrent", "lanes"].filter((m) => lastRuns[m]);
  $("compare").hidden = modes.length === 0;
  if (!modes.length) return;
  const scale = Math.max(1, ...modes.map((m) => lastRuns[m].report.total_ms));
  const route = currentRoute();
  $("compare-groups").replaceChildren(...modes.map((m) => {
    const { label, report } = lastRuns[m];
    const group = el("div", "group");
    group.dataset.mode = m;
    group.dataset.total = report.total_ms;
    group.append(el("h3", "", `${label}: ${ms(report.total_ms)}`));
    for (const name of route.sources) {
      const s = report.sources[name];
      if (!s) continue;
      const row = el("div", "cmp " + s.status), track = el("div", "track"), car = el("div", "car");
      row.dataset.source = name;
      if (s.status !== "skipped") {
        car.style.left = (100 * s.start_ms / scale) + "%";
        car.style.width = (100 * (s.end_ms - s.start_ms) / scale) + "%";
      }
      track.append(car);
      row.append(el("span", "name", name), track, el("span", "ms", s.status === "ok" ? ms(s.latency_ms) : s.status));
      group.append(row);
    }
    return group;
  }));
  $("compare-axis").replaceChildren(...[0, 0.25, 0.5, 0.75, 1].map((f) => el("span", "", (f * scale).toFixed(0) + " ms")));
}

// runAwait runs the "what is await?" demonstration: the chat district
// outlives its timeout, honouring its context or not; either way the city
// answers at the deadline.
async function runAwait() {
  const context = document.querySelector("input[name=await-context]:checked").value;
  const board = $("await-board");
  const rows = {};
  const row = (name) => rows[name] ??= (() => {
    const r = el("div", "lane running"), track = el("div", "track"), car = el("div", "car");
    r.id = "await-" + name;
    track.append(car);
    const label = el("span", "name", name);
    label.prepend(el("span", "icon", icon(name) + " "));
    r.append(label, track, el("span", "ms", "running"));
    board.append(r);
    return r;
  })();
  board.replaceChildren();
  $("await-status").textContent = "";
  const scale = 1500;
  const place = (r, start, end) => {
    const car = r.querySelector(".car");
    car.style.left = (100 * start / scale) + "%";
    car.style.width = (100 * (end - start) / scale) + "%";
  };
  await busy($("run-await"), () => sse(`/highway/await?context=${context}`, (type, d) => {
    if (type === "start") place(row(d.name), d.start_ms, d.start_ms);
    if (type === "source") {
      const r = row(d.name);
      r.className = "lane " + d.status;
      place(r, d.start_ms, d.end_ms);
      r.lastChild.textContent = d.status === "ok" ? ms(d.latency_ms) : why(d);
    }
    if (type === "report") {
      const chat = d.sources.chat;
      const r = row("chat");
      r.dataset.abandoned = chat.abandoned ? "1" : "0";
      r.lastChild.textContent = chat.abandoned ? "cut off; abandoned" : "cut off; stopped";
      $("await-status").textContent = chat.abandoned
        ? `The city still answered at ${ms(d.total_ms)}: Highway cut the deaf district off at its deadline and marked it abandoned. But its goroutine sleeps on for its 3 s, holding what it holds: in Go, time.Sleep does not stop the highway, it only wastes a lane.`
        : `The city answered at ${ms(d.total_ms)}, and the chat district stopped the moment its deadline passed: its select saw ctx.Done(). Nothing of it runs on.`;
    }
  }));
}

// why is a failed lane's short reason: what happened, and for a skipped
// lane which need failed.
function why(d) {
  if (d.status === "skipped") return "skipped: " + d.need + " failed";
  return (d.reason || d.status).replaceAll("_", " ") + " at " + ms(d.end_ms);
}

// Race: 6 requests on the race's route. The Async Highway sends all six
// at once, each served on the highway; then Sync City sends them one
// after another, each served on a single lane. One side at a time: a
// browser keeps at most six connections to a server, and a seventh
// request running beside the highway's six would queue behind them.
async function runRace() {
  const path = $("race-route").value;
  $("race-winner").textContent = "";
  delete $("race-winner").dataset.winner;
  const side = async (name, mode, oneByOne) => {
    const list = $(name + "-lanes");
    const minis = Array.from({ length: 6 }, (_, i) => {
      const li = el("li", "mini");
      li.append(el("span", "fill"), el("span", "ms", "#" + (i + 1)));
      return li;
    });
    list.replaceChildren(...minis);
    $(name + "-done").textContent = 0;
    $(name + "-time").textContent = "running…";
    let done = 0;
    const t0 = performance.now();
    const one = async (i) => {
      minis[i].className = "mini running";
      const resp = await api(`${path}?mode=${mode}`);
      await resp.json();
      const t = performance.now() - t0;
      minis[i].className = "mini " + (resp.ok ? "ok" : "failed");
      minis[i].dataset.ms = t;
      minis[i].lastChild.textContent = ms(t);
      $(name + "-done").textContent = ++done;
    };
    if (oneByOne) for (let i = 0; i < 6; i++) await one(i);
    else await Promise.all(minis.map((_, i) => one(i)));
    const t = performance.now() - t0;
    $(name + "-time").textContent = ms(t);
    $(name + "-time").dataset.ms = t;
    return t;
  };
  await busy($("run-race"), async () => {
    const fast = await side("async", "concurrent", false);
    const slow = await side("sync", "sequential", true);
    // Both sides on one scale, the slower side's total: when each request
    // landed is seen, not read.
    for (const li of document.querySelectorAll("#race .mini")) {
      li.firstChild.style.right = (100 - 100 * Math.min(+li.dataset.ms / Math.max(fast, slow), 1)) + "%";
    }
    const winner = fast < slow ? "Async Highway" : "Sync City";
    const ratio = Math.max(fast, slow) / Math.min(fast, slow);
    $("race-winner").textContent = `${winner} wins on ${path}: ${ms(Math.min(fast, slow))} against ${ms(Math.max(fast, slow))}, ${ratio.toFixed(1)}x`;
    Object.assign($("race-winner").dataset, { winner, ratio });
  });
}

// Surge: a bounded surge the server runs against its own route, charted
// each second on one time axis: answers/s, p50 and p99, and sheds/s, each
// on its own scale.
let stopSurge = null;

async function runSurge(e) {
  e.preventDefault();
  const users = +$("surge-users").value, seconds = +$("surge-seconds").value;
  const maxUsers = +$("surge-users").max, maxSeconds = +$("surge-seconds").max;
  if (!(users >= 1 && users <= maxUsers && seconds >= 1 && seconds <= maxSeconds && Number.isInteger(users) && Number.isInteger(seconds))) {
    $("surge-status").textContent = `users must be from 1 to ${maxUsers}, seconds from 1 to ${maxSeconds}`;
    $("surge-status").className = "status bad";
    return;
  }
  const points = [];
  const chart = $("surge-chart");
  chart.replaceChildren();
  chart.dataset.points = 0;
  delete chart.dataset.final;
  $("surge-status").textContent = `${users} users on ${$("surge-route").value} for ${seconds}s…`;
  $("surge-status").className = "status";
  const abort = new AbortController();
  stopSurge = () => abort.abort();
  $("stop-surge").disabled = false;
  const q = new URLSearchParams({ route: $("surge-route").value, users, duration: seconds + "s" });
  let shedBefore = 0;
  try {
    await busy($("run-surge"), () => sse("/highway/surge?" + q, (type, d) => {
      if (type === "tick") {
        d.shed_per_sec = (d.shed - shedBefore) / Math.max(d.elapsed_s - (points.at(-1)?.elapsed_s || 0), 0.001);
        shedBefore = d.shed;
        points.push(d);
        $("surge-rps").textContent = d.per_sec.toFixed(0);
        $("surge-p50").textContent = ms(d.p50_ms);
        $("surge-p99").textContent = ms(d.p99_ms);
        $("surge-inflight").textContent = d.in_flight;
        $("surge-shed").textContent = d.shed;
        drawSurge(chart, points, seconds);
      }
      if (type === "summary") {
        $("surge-inflight").textContent = 0;
        $("surge-rps").textContent = d.per_sec.toFixed(0);
        $("surge-p50").textContent = ms(d.p50_ms);
        $("surge-p99").textContent = ms(d.p99_ms);
        $("surge-shed").textContent = d.shed;
        Object.assign(chart.dataset, { final: "1", requests: d.requests, perSec: d.per_sec, shed: d.shed });
        $("surge-status").textContent = (d.shed > 0 ? `the city stayed alive by shedding ${d.shed} requests` : "the city stayed alive") +
          `: ${d.requests} requests, ${d.per_sec.toFixed(0)} answers/s, p50 ${ms(d.p50_ms)}, p99 ${ms(d.p99_ms)}, ${d.errors} errors`;
        $("surge-status").className = "status " + (d.errors > 0 ? "bad" : "good");
      }
      if (type === "error") $("surge-status").textContent = "error: " + d.error;
    }, abort.signal));
  } catch (err) {
    $("surge-status").textContent = abort.signal.aborted ? "stopped" : "error: " + err.message;
    $("surge-inflight").textContent = 0;
  } finally {
    stopSurge = null;
    $("stop-surge").disabled = true;
  }
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// drawSurge draws three panels over one time axis (0 to the surge's
// length): answers/s, latency (p50 and p99), sheds/s; each panel scaled
// to its own largest value, which it labels.
function drawSurge(chart, points, seconds) {
  // The drawing is as wide as it is shown, so its labels keep their size
  // on a phone instead of shrinking with a fixed viewBox.
  const width = Math.max(280, Math.round(chart.getBoundingClientRect().width) || 600);
  chart.setAttribute("viewBox", `0 0 ${width} 330`);
  const left = 56, right = width - 10, x = (t) => left + (right - left) * Math.min(t / seconds, 1);
  const panels = [
    { top: 10, h: 80, lines: [["per_sec", "#34d399", "answers/s"]], unit: "/s" },
    { top: 110, h: 80, lines: [["p50_ms", "#60a5fa", "p50"], ["p99_ms", "#fbbf24", "p99"]], unit: " ms" },
    { top: 210, h: 80, lines: [["shed_per_sec", "#f87171", "shed/s"]], unit: "/s" },
  ];
  const parts = [];
  for (const p of panels) {
    const max = Math.max(1, ...p.lines.flatMap(([k]) => points.map((pt) => pt[k])));
    const y = (v) => p.top + p.h - p.h * v / max;
    parts.push(svg("line", { x1: left, y1: p.top + p.h, x2: right, y2: p.top + p.h, class: "axis" }));
    parts.push(svg("text", { x: left - 6, y: p.top + 10, class: "label end" }, max.toFixed(0) + p.unit));
    parts.push(svg("text", { x: left - 6, y: p.top + p.h, class: "label end" }, "0"));
    p.lines.forEach(([k, color, name], i) => {
      parts.push(svg("polyline", { fill: "none", stroke: color, "stroke-width": 2.5,
        points: [[0, 0], ...points.map((pt) => [pt.elapsed_s, pt[k]])].map(([t, v]) => `${x(t)},${y(v)}`).join(" ") }));
      parts.push(svg("text", { x: left + 8 + 90 * i, y: p.top + 10, fill: color, class: "label" }, name));
    });
  }
  const step = Math.max(1, Math.ceil(seconds / Math.floor((right - left) / 40)), seconds <= 10 ? 1 : seconds <= 30 ? 5 : 10);
  for (let t = 0; t <= seconds; t += step) {
    parts.push(svg("text", { x: x(t), y: 310, class: "label middle" }, t + "s"));
  }
  chart.replaceChildren(...parts);
  chart.dataset.points = points.length;
  chart.dataset.lastElapsed = points.at(-1)?.elapsed_s ?? 0;
}

async function refreshHealth() {
  const resp = await api("/highway/sources");
  if (!resp.ok) return;
  const r = await resp.json();
  $("health-rows").replaceChildren(...(r.sources || []).map(healthRow));
}

// cellsOf appends cells to a table row, each saying its column's name
// (label), for the phone layout, where rows become cards.
function cellsOf(tr) {
  return (label, text, cls) => {
    const td = el("td", cls || "", text);
    td.dataset.label = label;
    tr.append(td);
    return td;
  };
}

// healthRow is one source's row; each cell says its column's name, for
// the phone layout, where rows become cards.
function healthRow(s) {
  const tr = el("tr");
  tr.dataset.source = s.name;
  const cell = cellsOf(tr);
  const name = el("th", "", s.name);
  name.scope = "row";
  tr.append(name);
  cell("Kind", s.kind);
  cell("Calls", String(s.calls));
  const errs = cell("Recent errors", s.recent_calls ? `${(100 * s.recent_error_rate).toFixed(0)}% of the last ${s.recent_calls}` : "no calls yet",
    s.recent_error_rate > 0.5 ? "bad" : s.recent_error_rate > 0 ? "warn" : "");
  errs.title = `${(100 * s.error_rate).toFixed(1)}% of ${s.calls} calls since start`;
  for (const [label, v] of [["p50", s.p50_ms], ["p95", s.p95_ms], ["p99", s.p99_ms]]) {
    cell(label, v == null ? `– (${s.samples} of ${s.min_samples} calls)` : ms(v), v == null ? "muted" : "");
  }
  const last = cell("Last error", s.last_error ? `${s.last_error.reason.replaceAll("_", " ")}, ${ago(s.last_error.at)}` : "none", s.last_error ? "warn" : "muted");
  if (s.last_error) last.title = s.last_error.message;
  const llm = s.input_tokens !== undefined;
  cell("Tokens (in/out)", llm ? `${s.input_tokens.toLocaleString()} / ${s.output_tokens.toLocaleString()}` : "–", llm ? "" : "muted");
  cell("Cost", llm && s.cost_usd !== undefined ? "$" + s.cost_usd.toFixed(s.cost_usd < 1 ? 6 : 2) : "–", llm ? "" : "muted");
  const b = cell("Breaker", "");
  b.append(el("span", "badge breaker-" + s.breaker, s.breaker));
  return tr;
}

// refreshDoor shows the door's traffic as the server counts it: each
// model's lanes (its providers, in the order it uses them) with the calls
// running on each now, and the last requests, newest first.
async function refreshDoor() {
  const resp = await api("/highway/door");
  if (!resp.ok) return;
  const t = await resp.json();
  $("door-empty").hidden = t.models.length > 0;
  $("door-models").replaceChildren(...t.models.map(doorModel));
  $("door-rows").replaceChildren(...t.recent.slice().reverse().map(doorRow));
  const last = t.recent.at(-1);
  const sum = (k) => t.models.reduce((n, m) => n + m[k], 0);
  $("door-status").textContent = t.models.length ? `${sum("requests")} requests through the door, ${sum("in_flight")} in flight` + (last ? `; the last answered ${ago(last.at)}` : "") : "";
  $("door").dataset.seen = last ? last.seq : 0;
}

function doorModel(m) {
  const card = el("div", "door-model");
  card.dataset.model = m.name;
  card.append(el("h3", "", m.name));
  const stats = el("dl", "stats");
  for (const [k, v] of [["in flight", m.in_flight], ["requests", m.requests], ["failed", m.failed], ["failed over", m.failovers], ["hedged", m.hedges]]) {
    const d = el("div");
    d.dataset.stat = k.replace(" ", "_");
    d.append(el("dt", "", k), el("dd", "", String(v)));
    stats.append(d);
  }
  card.append(stats);
  for (const [i, l] of m.lanes.entries()) {
    // A lane's car is there while calls run on it, as long as its share
    // of the model's calls running now; a lane at rest is empty.
    const lane = el("div", "lane door-lane " + (l.in_flight > 0 ? "running" : "waiting"));
    lane.dataset.source = l.source;
    lane.dataset.inFlight = l.in_flight;
    lane.dataset.calls = l.calls;
    lane.dataset.failures = l.failures;
    lane.append(el("span", "name", `${i + 1}. ${l.source}`));
    const track = el("div", "track");
    const car = el("div", "car");
    car.style.width = (l.in_flight > 0 ? Math.max(5, Math.min(100, 100 * l.in_flight / Math.max(1, m.in_flight))) : 0) + "%";
    track.append(car);
    const plural = (n, one) => `${n} ${one}${n === 1 ? "" : "s"}`;
    lane.append(track, el("span", "ms" + (l.failures > 0 ? " failing" : ""), `${l.in_flight} now · ${plural(l.calls, "call")} · ${l.failures} failed`));
    lane.title = l.model ? `provider model ${l.model}` : "";
    card.append(lane);
  }
  return card;
}

// doorRow is one request; its path reads "first (reason) → next", the
// sources it moved on from and the one that answered.
function doorRow(p) {
  const tr = el("tr", p.status >= 400 || p.error ? "failed" : "");
  tr.dataset.seq = p.seq;
  const cell = cellsOf(tr);
  const when = el("th", "", new Date(p.at).toLocaleTimeString());
  when.scope = "row";
  tr.append(when);
  cell("Model", p.model + (p.stream ? " (stream)" : ""));
  cell("Served by", p.provider || "none", p.provider ? "" : "bad");
  const path = [...(p.steps || []).map((s) => `${s.source} (${s.reason.replaceAll("_", " ")})`), p.provider || "–"].join(" → ");
  const marks = (p.marks || []).map((m) => m.replaceAll("_", " "));
  cell("Path", path + (marks.length ? ` · ${marks.join(", ")}` : ""), p.steps || marks.length ? "warn" : "");
  const st = cell("Status", String(p.status) + (p.error ? " · " + p.error : ""), p.status >= 400 || p.error ? "bad" : "");
  if (p.error) st.title = p.error;
  cell("First token", ms(p.first_token_ms));
  cell("Total", ms(p.ms));
  cell("Tokens", String(p.tokens));
  return tr;
}

function ago(when) {
  const s = Math.max(0, (Date.now() - Date.parse(when)) / 1000);
  return s < 60 ? `${s.toFixed(0)}s ago` : s < 3600 ? `${(s / 60).toFixed(0)} min ago` : `${(s / 3600).toFixed(1)} h ago`;
}

document.addEventListener("DOMContentLoaded", async () => {
  setupTabs();
  $("lanes-form").addEventListener("submit", runLanes);
  $("route").addEventListener("change", routeChanged);
  for (const r of document.querySelectorAll("input[name=mode]")) r.addEventListener("change", () => { $("popy-says").textContent = popy[r.value]; });
  $("run-await").addEventListener("click", runAwait);
  $("code").addEventListener("mouseover", explain);
  $("code").addEventListener("focusin", explain);
  $("run-race").addEventListener("click", runRace);
  $("surge-form").addEventListener("submit", runSurge);
  $("stop-surge").addEventListener("click", () => stopSurge && stopSurge());
  $("key-form").addEventListener("submit", saveKey);
  await loadRoutes();
  setInterval(() => { if (!$("health").hidden) refreshHealth(); }, 2000);
  setInterval(() => { if (!$("door").hidden) refreshDoor(); }, 1000);
  document.body.dataset.ready = "1";
});
