"use strict";
// Highway's dashboard: everything here comes from real requests to this
// server. No framework, no build step, no other host.

const $ = (id) => document.getElementById(id);
const ms = (v) => (v == null ? "–" : v.toFixed(1) + " ms");
let routes = [];

// api is fetch with the caller's API key, when the server asks for one
// (clients: in its config). The key lives in this tab's sessionStorage
// only; a 401 shows the form to enter it.
async function api(url, init = {}) {
  const key = sessionStorage.getItem("highway-key");
  const headers = Object.assign({}, init.headers || {}, key ? { Authorization: "Bearer " + key } : {});
  const resp = await fetch(url, Object.assign({}, init, { headers }));
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
async function sse(url, on) {
  const resp = await api(url, { headers: { Accept: "text/event-stream" } });
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

// Tabs, usable with the keyboard (arrows move between them).
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
  };
  tabs.forEach((t, i) => {
    t.addEventListener("click", () => show(t));
    t.addEventListener("keydown", (e) => {
      const d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (d) { const n = tabs[(i + d + tabs.length) % tabs.length]; n.focus(); show(n); }
    });
  });
  show(tabs[0]);
}

async function loadRoutes() {
  const resp = await api("/highway/routes");
  if (!resp.ok) return;
  const r = await resp.json();
  routes = (r.routes || []).filter((x) => x.method === "GET");
  $("route").innerHTML = routes.map((x) => `<option>${x.path}</option>`).join("");
  $("surge-users").max = r.surge.max_users;
  $("surge-users").value = Math.min(200, r.surge.max_users);
  $("surge-seconds").max = Math.floor(r.surge.max_duration_s);
}

// Lanes: each source is a lane; its car grows while the call is in flight
// and stops at its real start and end when its event lands.
async function runLanes(e) {
  e.preventDefault();
  const path = $("route").value;
  const route = routes.find((x) => x.path === path);
  const choice = document.querySelector("input[name=mode]:checked").value;
  const query = choice === "lanes" ? "lanes=" + Math.max(1, +$("lane-count").value) : "mode=" + choice;
  const board = $("board");
  board.innerHTML = route.sources.map((s) =>
    `<div class="lane" id="lane-${s}"><span class="name">${s}</span><div class="track"><div class="car" style="left:0;width:0"></div></div><span class="ms">…</span></div>`).join("");
  $("chat").textContent = "";
  $("lanes-status").textContent = "running " + path + "?" + query;
  $("run-lanes").disabled = true;
  const t0 = performance.now();
  const landed = {};
  let scale = 1000;
  const place = (name, start, end, cls) => {
    const car = document.querySelector(`#lane-${name} .car`);
    car.style.left = (100 * start / scale) + "%";
    car.style.width = (100 * Math.max(end - start, 1) / scale) + "%";
    if (cls) car.className = "car " + cls;
  };
  // A lane that needs others waits, empty, until the last of them lands.
  const needs = route.needs || {};
  const waitsUntil = (s) => {
    let from = 0;
    for (const n of needs[s] || []) {
      if (!landed[n]) return null;
      from = Math.max(from, landed[n].end_ms);
    }
    return from;
  };
  for (const [s, ns] of Object.entries(needs)) {
    document.querySelector(`#lane-${s} .ms`).textContent = "waits for " + ns.join(", ");
  }
  const tick = () => {
    const now = performance.now() - t0;
    scale = Math.max(scale, now * 1.1);
    for (const s of route.sources) {
      const l = landed[s];
      const from = waitsUntil(s);
      if (l) place(s, l.start_ms, l.end_ms);
      else if (from === null) place(s, 0, 0, "waiting");
      else place(s, from, now, "running");
    }
    if (!board.dataset.done) requestAnimationFrame(tick);
  };
  delete board.dataset.done;
  requestAnimationFrame(tick);
  try {
    await sse(path + "?stream=1&" + query, (type, d) => {
      if (type === "delta") $("chat").textContent += d.text;
      if (type === "source") {
        landed[d.name] = d;
        place(d.name, d.start_ms, d.end_ms, d.status);
        document.querySelector(`#lane-${d.name} .ms`).textContent = d.status === "skipped" ? "skipped: " + d.need + " failed" : ms(d.latency_ms);
        Object.assign(document.querySelector(`#lane-${d.name}`).dataset, { latency: d.latency_ms, start: d.start_ms, end: d.end_ms });
      }
      if (type === "report") {
        board.dataset.done = "1";
        scale = Math.max(d.total_ms, 1);
        for (const [name, s] of Object.entries(d.sources)) place(name, s.start_ms, s.end_ms, s.status);
        document.querySelector(`#lane-${d.slowest}`)?.classList.add("slowest");
        const key = d.mode === "sequential" ? "sequential" : "concurrent";
        $("total-" + key).textContent = ms(d.total_ms);
        $("total-" + key).dataset.ms = d.total_ms;
        $("sum-" + key).textContent = ms(d.sum_ms);
        $("sum-" + key).dataset.ms = d.sum_ms;
        $("slowest-" + key).textContent = (d.critical_path || []).join(" → ");
        $("lanes-status").textContent = `${d.complete ? "all lanes answered" : d.failed + " failed"} in ${ms(d.total_ms)} (one lane would take ${ms(d.sum_ms)})`;
      }
    });
  } catch (err) {
    $("lanes-status").textContent = "error: " + err.message;
  } finally {
    board.dataset.done = "1";
    $("run-lanes").disabled = false;
  }
}

// Race: 6 requests; Sync City serves them one after another on a single
// lane each, the Async Highway all at once, each on the highway.
async function runRace() {
  const path = $("route").value;
  $("run-race").disabled = true;
  $("race-winner").textContent = "";
  const side = (name, mode, oneByOne) => {
    let done = 0;
    const t0 = performance.now();
    const one = async () => {
      await (await api(`${path}?mode=${mode}`)).json();
      done++;
      $(name + "-done").textContent = done;
      $(name + "-bar").style.width = (100 * done / 6) + "%";
    };
    const run = oneByOne
      ? (async () => { for (let i = 0; i < 6; i++) await one(); })()
      : Promise.all(Array.from({ length: 6 }, one));
    return run.then(() => {
      const t = performance.now() - t0;
      $(name + "-time").textContent = ms(t);
      $(name + "-time").dataset.ms = t;
      return t;
    });
  };
  for (const n of ["sync", "async"]) { $(n + "-done").textContent = 0; $(n + "-bar").style.width = 0; $(n + "-time").textContent = "–"; }
  const [sync, asyncT] = await Promise.all([side("sync", "sequential", true), side("async", "concurrent", false)]);
  const winner = asyncT < sync ? "Async Highway" : "Sync City";
  $("race-winner").textContent = `${winner} wins: ${ms(Math.min(sync, asyncT))} against ${ms(Math.max(sync, asyncT))} (${(Math.max(sync, asyncT) / Math.min(sync, asyncT)).toFixed(1)}x)`;
  $("race-winner").dataset.winner = winner;
  $("run-race").disabled = false;
}

// Surge: a bounded surge the server runs against its own route, charted
// each second.
async function runSurge(e) {
  e.preventDefault();
  const chart = $("surge-chart");
  const points = [];
  chart.innerHTML = "";
  chart.dataset.points = 0;
  $("run-surge").disabled = true;
  $("surge-status").textContent = "the surge is on…";
  const draw = () => {
    const maxR = Math.max(1, ...points.map((p) => p.per_sec)), maxL = Math.max(1, ...points.map((p) => p.p99_ms));
    const x = (i) => 10 + i * (580 / Math.max(points.length - 1, 1));
    const line = (key, max, color) => `<polyline fill="none" stroke="${color}" stroke-width="3" points="${points.map((p, i) => `${x(i)},${190 - 170 * p[key] / max}`).join(" ")}"/>`;
    chart.innerHTML = line("per_sec", maxR, "#34d399") + line("p99_ms", maxL, "#fbbf24") +
      `<text x="12" y="16" fill="#34d399" font-size="12">req/s (max ${maxR.toFixed(0)})</text><text x="200" y="16" fill="#fbbf24" font-size="12">p99 (max ${maxL.toFixed(0)} ms)</text>`;
    chart.dataset.points = points.length;
  };
  const q = new URLSearchParams({ route: $("route").value, users: $("surge-users").value, duration: $("surge-seconds").value + "s" });
  try {
    await sse("/highway/surge?" + q, (type, d) => {
      if (type === "tick") {
        points.push(d);
        $("surge-rps").textContent = d.per_sec.toFixed(0);
        $("surge-p50").textContent = ms(d.p50_ms);
        $("surge-p99").textContent = ms(d.p99_ms);
        $("surge-inflight").textContent = d.in_flight;
        $("surge-shed").textContent = d.shed;
        draw();
      }
      if (type === "summary") {
        $("surge-status").textContent = (d.shed > 0 ? `the city stayed alive by shedding ${d.shed} requests` : "the city stayed alive") +
          `: ${d.requests} requests, ${d.per_sec.toFixed(0)} req/s, p99 ${ms(d.p99_ms)}, ${d.errors} errors`;
      }
      if (type === "error") $("surge-status").textContent = "error: " + d.error;
    });
  } catch (err) {
    $("surge-status").textContent = "error: " + err.message;
  } finally {
    $("run-surge").disabled = false;
  }
}

async function refreshHealth() {
  const resp = await api("/highway/sources");
  if (!resp.ok) return;
  const r = await resp.json();
  $("health-rows").innerHTML = (r.sources || []).map((s) =>
    `<tr><th>${s.name}</th><td>${s.kind}</td><td>${s.calls}</td><td>${(100 * s.error_rate).toFixed(1)}%</td><td>${ms(s.p50_ms)}</td><td>${ms(s.p95_ms)}</td><td>${ms(s.p99_ms)}</td><td>${s.breaker}</td></tr>`).join("");
}

document.addEventListener("DOMContentLoaded", async () => {
  setupTabs();
  $("lanes-form").addEventListener("submit", runLanes);
  $("run-race").addEventListener("click", runRace);
  $("surge-form").addEventListener("submit", runSurge);
  $("key-form").addEventListener("submit", saveKey);
  await loadRoutes();
  setInterval(() => { if (!$("health").hidden) refreshHealth(); }, 2000);
  document.body.dataset.ready = "1";
});
