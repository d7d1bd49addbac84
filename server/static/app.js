// The progress page: follows one run's Server-Sent Events (replayed from the start, then
// live) and keeps stage bars, readouts, loss curves, previews, the turntable video and
// the 4D viewer up to date. No framework, no build step.
import { FieldViewer, loadFieldParams } from "./viewer.js";

const $ = (id) => document.getElementById(id);
const STAGES = ["static", "dynamic", "refine"];
const EVENT_TYPES = [
  "stage-start",
  "progress",
  "checkpoint",
  "stage-done",
  "eval",
  "export",
  "preview",
];

let runId = null;
let source = null;
let losses = {};
let chartsQueued = false;
let viewerCheckpoint = null;
let exportFiles = [];

const fileUrl = (path) =>
  `/api/runs/${encodeURIComponent(runId)}/files/${
    path.split("/").map(encodeURIComponent).join("/")
  }`;

function fmtSeconds(s) {
  if (!Number.isFinite(s)) return "–";
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${r}s` : `${r}s`;
}

const fmt = (
  x,
) => (Math.abs(x) >= 1000 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(3) : x.toFixed(4));

function stageBox(stage) {
  return document.querySelector(`.stage[data-stage="${stage}"]`);
}

function reset() {
  losses = {};
  exportFiles = [];
  viewerCheckpoint = null;
  for (const s of STAGES) {
    const box = stageBox(s);
    box.querySelector("progress").value = 0;
    box.querySelector(".stage-text").textContent = "waiting";
  }
  for (const id of ["stage", "itps", "eta", "lr", "psnr"]) $(id).textContent = "–";
  $("iteration").textContent = "0";
  $("step").textContent = "0";
  $("loss-charts").textContent = "";
  $("video-slot").innerHTML = '<p class="muted">written after each stage</p>';
  $("preview-reference").removeAttribute("src");
  $("preview-moving").removeAttribute("src");
}

function setStage(stage, iteration, total, text) {
  const box = stageBox(stage);
  if (box === null) return;
  const bar = box.querySelector("progress");
  bar.max = Math.max(1, total);
  bar.value = iteration;
  box.querySelector(".stage-text").textContent = text ?? `${iteration} / ${total}`;
}

function drawCharts() {
  chartsQueued = false;
  const host = $("loss-charts");
  for (const [name, points] of Object.entries(losses)) {
    let chart = host.querySelector(`[data-term="${name}"]`);
    if (chart === null) {
      chart = document.createElement("div");
      chart.className = "chart";
      chart.dataset.term = name;
      chart.innerHTML = `<div class="name"><span>${name}</span><span class="last"></span></div>` +
        '<svg viewBox="0 0 100 100" preserveAspectRatio="none"><polyline></polyline></svg>';
      host.append(chart);
    }
    // Log scale when every value is positive: SDS terms span several decades.
    const positive = points.every((p) => p[1] > 0);
    const ys = points.map((p) => (positive ? Math.log10(p[1]) : p[1]));
    const x0 = points[0][0], x1 = points[points.length - 1][0];
    const lo = Math.min(...ys), hi = Math.max(...ys);
    chart.querySelector("polyline").setAttribute(
      "points",
      points.map((p, i) =>
        `${((p[0] - x0) / Math.max(1, x1 - x0) * 100).toFixed(2)},${
          (95 - ((ys[i] - lo) / Math.max(1e-12, hi - lo)) * 90).toFixed(2)
        }`
      ).join(" "),
    );
    chart.querySelector(".last").textContent = fmt(points[points.length - 1][1]);
  }
}

function showVideo(files, stage) {
  const rel = files.map((f) => f.replace(/^.*?\b(static|dynamic|refine)\//, "$1/"));
  const mp4 = rel.find((f) => /\/turntable\.mp4$/.test(f));
  const gif = rel.find((f) => /\/turntable\.gif$/.test(f));
  const slot = $("video-slot");
  $("video-label").textContent = `after ${stage}`;
  const showGif = () => {
    if (gif === undefined) return;
    slot.innerHTML = "";
    const img = document.createElement("img");
    img.src = fileUrl(gif);
    img.alt = `turntable after ${stage}`;
    slot.append(img);
  };
  if (mp4 !== undefined) {
    slot.innerHTML = "";
    const v = document.createElement("video");
    Object.assign(v, {
      src: fileUrl(mp4),
      controls: true,
      loop: true,
      muted: true,
      autoplay: true,
    });
    v.setAttribute("playsinline", "");
    // Browsers built without H.264 (some Chromium builds) get the GIF instead.
    v.addEventListener("error", showGif);
    slot.append(v);
  } else {
    showGif();
  }
  exportFiles = rel;
}

function onEvent(e) {
  const d = JSON.parse(e.data);
  switch (d.type) {
    case "stage-start":
      setStage(d.stage, d.iteration, d.total, `started on ${d.adapter}`);
      $("stage").textContent = d.stage;
      break;
    case "progress": {
      setStage(
        d.stage,
        d.iteration,
        d.total,
        `${d.iteration} / ${d.total} · ${d.itPerSec.toFixed(2)} it/s · ${
          fmtSeconds(d.secondsLeft)
        } left`,
      );
      $("stage").textContent = d.stage;
      $("iteration").textContent = String(d.iteration);
      $("step").textContent = String(d.step);
      $("itps").textContent = d.itPerSec.toFixed(2);
      $("eta").textContent = fmtSeconds(d.secondsLeft);
      $("lr").textContent = `${fmt(d.lr.grid)} / ${fmt(d.lr.mlp)}`;
      for (const [k, v] of Object.entries(d.loss)) {
        if (!Number.isFinite(v)) continue;
        (losses[k] ??= []).push([d.step, v]);
      }
      if (!chartsQueued) {
        chartsQueued = true;
        requestAnimationFrame(drawCharts);
      }
      break;
    }
    case "stage-done":
      setStage(
        d.stage,
        d.iteration,
        d.total,
        `${d.interrupted ? "interrupted" : "done"} in ${fmtSeconds(d.elapsedMs / 1000)}`,
      );
      refreshViewer();
      break;
    case "checkpoint":
      refreshViewer();
      break;
    case "eval":
      $("psnr").textContent = `${d.psnr.toFixed(2)} dB (${d.stage})`;
      break;
    case "export":
      showVideo(d.files, d.stage);
      if (gpuState === "none") showFallback(gpuReason);
      break;
    case "preview": {
      const ref = d.files.find((f) => /reference/.test(f)) ?? d.files[0];
      const moving = d.files.find((f) => /moving/.test(f)) ?? d.files[1];
      if (ref !== undefined) $("preview-reference").src = fileUrl(ref);
      if (moving !== undefined) $("preview-moving").src = fileUrl(moving);
      $("preview-label").textContent = `${d.stage} ${d.iteration}`;
      break;
    }
  }
}

function follow(id) {
  source?.close();
  reset();
  runId = id;
  const hash = new URLSearchParams(location.hash.slice(1));
  hash.set("run", id);
  location.hash = hash.toString();
  source = new EventSource(`/api/runs/${encodeURIComponent(id)}/events`);
  source.onopen = () => {
    $("connection").textContent = "live";
    $("connection").className = "pill live";
  };
  source.onerror = () => {
    // EventSource reconnects by itself and resumes after the last id it saw.
    $("connection").textContent = "reconnecting…";
    $("connection").className = "pill lost";
  };
  for (const t of EVENT_TYPES) source.addEventListener(t, onEvent);
  refreshViewer();
}

// ---- 4D viewer ----------------------------------------------------------------------

let viewer = null;
// "none" once WebGPU is known to be missing or broken here: exports then feed the fallback.
let gpuState = "unknown";
let gpuReason = "";
let device = null;
let canvasContext = null;
let canvasFormat = null;
const view = { phiDeg: 0, thetaDeg: 90, time: 0 };
let drawQueued = false;
let refreshTimer = null;
let loading = Promise.resolve();

function showFallback(reason = "no WebGPU in this browser") {
  gpuState = "none";
  gpuReason = reason;
  const files = exportFiles;
  const pick = files.find((f) => /\/turntable\.gif$/.test(f)) ??
    files.find((f) => /\.gif$/.test(f));
  const img = $("viewer-fallback");
  if (pick !== undefined) {
    img.src = fileUrl(pick);
    img.hidden = false;
    $("viewer-canvas").hidden = true;
  }
  $("viewer-status").textContent = `${reason}: pre-rendered frames`;
}

function draw() {
  drawQueued = false;
  if (viewer === null) return;
  viewer.render(view);
  viewer.present(canvasContext, canvasFormat);
}

function queueDraw() {
  if (!drawQueued) {
    drawQueued = true;
    requestAnimationFrame(draw);
  }
}

function refreshViewer() {
  // Checkpoints come in bursts (checkpoint, stage-done): load the newest once.
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    // One load at a time: two overlapping loads would each create a device.
    loading = loading.then(loadViewer, loadViewer);
  }, 300);
}

async function loadViewer() {
  const id = runId;
  const response = await fetch(`/api/runs/${encodeURIComponent(id)}/viewer`);
  if (!response.ok || id !== runId) return;
  const spec = await response.json();
  const key = `${spec.checkpoint}@${spec.modified}`;
  if (key === viewerCheckpoint) return;
  viewerCheckpoint = key;
  if (!("gpu" in navigator)) return showFallback();
  try {
    if (device === null) {
      let adapter = null;
      // The first request can come back empty while the browser's GPU process starts.
      for (let i = 0; i < 5 && adapter === null; i++) {
        adapter = await navigator.gpu.requestAdapter();
        if (adapter === null) await new Promise((r) => setTimeout(r, 500));
      }
      if (adapter === null) return showFallback("no WebGPU adapter");
      device = await adapter.requestDevice();
      const own = device;
      device.lost.then((info) => {
        if (own !== device) return;
        device = null;
        viewer = null;
        viewerCheckpoint = null;
        showFallback(`WebGPU device lost (${info.message || info.reason})`);
      });
      canvasFormat = navigator.gpu.getPreferredCanvasFormat();
      canvasContext = $("viewer-canvas").getContext("webgpu");
      canvasContext.configure({ device, format: canvasFormat, alphaMode: "opaque" });
    }
    $("viewer-status").textContent = `loading ${spec.stage} checkpoint (${
      (spec.bytes / 2 ** 20).toFixed(1)
    } MiB)…`;
    const params = await loadFieldParams(fileUrl(spec.checkpoint), spec);
    // #size=N&samples=M in the address trade quality for speed on software adapters.
    const hash = new URLSearchParams(location.hash.slice(1));
    const next = await FieldViewer.create(device, spec, params, {
      width: Number(hash.get("size") ?? 128),
      samples: Number(hash.get("samples") ?? 96),
    });
    viewer?.destroy();
    viewer = next;
    $("viewer-canvas").hidden = false;
    $("viewer-fallback").hidden = true;
    $("viewer-status").textContent = `WebGPU: ${spec.stage} checkpoint, step ${spec.step}`;
    queueDraw();
  } catch (error) {
    console.error(error);
    showFallback(`WebGPU failed (${error.message})`);
  }
}

function setupViewerControls() {
  const canvas = $("viewer-canvas");
  let drag = null;
  canvas.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, phi: view.phiDeg, theta: view.thetaDeg };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (drag === null) return;
    view.phiDeg = drag.phi - (e.clientX - drag.x) * 0.5;
    view.thetaDeg = Math.min(170, Math.max(10, drag.theta - (e.clientY - drag.y) * 0.5));
    queueDraw();
  });
  canvas.addEventListener("pointerup", () => (drag = null));
  $("viewer-time").addEventListener("input", (e) => {
    view.time = Number(e.target.value);
    queueDraw();
  });
}

async function main() {
  setupViewerControls();
  const { runs } = await (await fetch("/api/runs")).json();
  const select = $("run");
  for (const r of runs) {
    const o = document.createElement("option");
    o.value = r.id;
    o.textContent = `${r.id} (${r.status})`;
    select.append(o);
  }
  select.addEventListener("change", () => follow(select.value));
  const wanted = new URLSearchParams(location.hash.slice(1)).get("run");
  const first = runs.find((r) => r.id === wanted) ?? runs[0];
  if (first === undefined) {
    $("connection").textContent = "no runs yet";
    return;
  }
  select.value = first.id;
  follow(first.id);
}

main();
