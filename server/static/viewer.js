// The 4D viewer's renderer: a forward-only WebGPU pipeline over a run's checkpoint.
// Per pass of rays: viewer.wgsl points_main (orbit-camera rays, equal steps through the
// box) -> the toolkit's grid_encode.wgsl forward -> mlp.wgsl main -> viewer.wgsl
// composite_main (albedo, white background, RGBA8). The WGSL arrives assembled from
// GET /api/runs/:id/viewer, so the encoder and the MLP are the trainer's own kernels.
// Plain ES module with no DOM use except in present(): Deno's WebGPU runs it in tests.

/** Points per pass: the [N][L*F] features of one pass stay under 64 MiB at L*F = 32. */
const POINT_BUDGET = 1 << 17;
const WG = 64;
/** Size of viewer.wgsl's View uniform: c2w rows, 8 u32, focal/cx/cy/time, background. */
const VIEW_BYTES = 112;
const DEG = Math.PI / 180;

/**
 * The orbit camera of kernels/camera.ts: row-major 3x4 c2w with columns
 * [right | up | f], f from the origin to the camera, and the pinhole intrinsics.
 * @param {{radius: number, thetaDeg: number, phiDeg: number, fovyDeg: number}} pose
 * @param {number} width
 * @param {number} height
 */
export function orbitView(pose, width, height) {
  const th = pose.thetaDeg * DEG, ph = pose.phiDeg * DEG;
  const c = [
    pose.radius * Math.sin(th) * Math.sin(ph),
    pose.radius * Math.cos(th),
    pose.radius * Math.sin(th) * Math.cos(ph),
  ];
  const norm = (v) => {
    const n = Math.sqrt(Math.max(v[0] * v[0] + v[1] * v[1] + v[2] * v[2], 1e-20));
    return [v[0] / n, v[1] / n, v[2] / n];
  };
  const cross = (a, b) => [
    a[1] * b[2] - a[2] * b[1],
    a[2] * b[0] - a[0] * b[2],
    a[0] * b[1] - a[1] * b[0],
  ];
  const f = norm(c);
  const right = norm(cross(f, [0, 1, 0]));
  const up = norm(cross(right, f));
  const c2w = [
    right[0],
    up[0],
    f[0],
    c[0],
    right[1],
    up[1],
    f[1],
    c[1],
    right[2],
    up[2],
    f[2],
    c[2],
  ];
  const focal = height / (2 * Math.tan((pose.fovyDeg * DEG) / 2));
  return { c2w, focal, cx: height / 2, cy: width / 2, width, height };
}

/**
 * Downloads the grid keyframes and the MLP of a checkpoint with HTTP range requests.
 * @param {string} fileUrl URL of the checkpoint through the run's files route
 * @param {any} spec the viewer spec (GET /api/runs/:id/viewer)
 * @param {typeof fetch} [fetchFn]
 * @returns {Promise<{grids: Float32Array[], mlp: Float32Array}>}
 */
export async function loadFieldParams(fileUrl, spec, fetchFn = fetch) {
  const range = async ([a, b]) => {
    const r = await fetchFn(fileUrl, { headers: { range: `bytes=${a}-${b - 1}` } });
    if (r.status !== 206 && r.status !== 200) {
      throw new Error(`Cannot load ${fileUrl}: HTTP ${r.status}`);
    }
    const buf = await r.arrayBuffer();
    // A server that ignores Range sends the whole file; cut the tensor out of it.
    return new Float32Array(r.status === 200 ? buf.slice(a, b) : buf);
  };
  const grids = [];
  for (const t of spec.grid.tensors) grids.push(await range(t));
  return { grids, mlp: await range(spec.mlp.tensor) };
}

function dispatch2d(pass, groups) {
  const x = Math.min(groups, 65535);
  pass.dispatchWorkgroups(x, Math.ceil(groups / x));
}

/** Renders views of one checkpoint into a packed RGBA8 buffer. */
export class FieldViewer {
  /**
   * @param {GPUDevice} device
   * @param {any} spec the viewer spec
   * @param {{grids: Float32Array[], mlp: Float32Array}} params
   * @param {{width?: number, height?: number, samples?: number}} [options]
   */
  static async create(device, spec, params, options = {}) {
    const v = new FieldViewer();
    v.device = device;
    v.spec = spec;
    v.width = options.width ?? 96;
    v.height = options.height ?? v.width;
    v.samples = options.samples ?? 64;
    const g = spec.grid;
    const dim = g.levels * g.featuresPerLevel;
    const rays = v.width * v.height;
    const perPass = Math.max(1, Math.floor(POINT_BUDGET / v.samples));
    const points = Math.min(rays, perPass) * v.samples;
    const owned = [];
    const buffer = (size, usage, label) => {
      const b = device.createBuffer({ size: Math.max(16, Math.ceil(size / 4) * 4), usage, label });
      owned.push(b);
      return b;
    };
    const S = GPUBufferUsage.STORAGE, D = GPUBufferUsage.COPY_DST, R = GPUBufferUsage.COPY_SRC;
    // Keyframes packed into chunk buffers at the spec's stride (kernels/grid_config.ts).
    const chunks = [];
    for (let c = 0; c < g.chunks; c++) {
      const first = c * g.keyframesPerChunk;
      const count = Math.min(g.keyframesPerChunk, g.keyframes - first);
      const buf = buffer(count * g.keyframeStride * 4, S | D, `grid chunk ${c}`);
      for (let k = 0; k < count; k++) {
        device.queue.writeBuffer(buf, k * g.keyframeStride * 4, params.grids[first + k]);
      }
      chunks.push(buf);
    }
    const mlp = buffer(spec.mlp.size * 4, S | D, "mlp");
    device.queue.writeBuffer(mlp, 0, params.mlp);
    const levelUniform = buffer(g.uniformWords.length * 4, GPUBufferUsage.UNIFORM | D, "levels");
    device.queue.writeBuffer(levelUniform, 0, new Uint32Array(g.uniformWords));
    const pts = buffer(points * 12, S, "points");
    const times = buffer(points * 4, S, "times");
    const steps = buffer(perPass * 4, S, "steps");
    const feat = buffer(points * dim * 4, S, "features");
    const raw = buffer(points * 16, S, "raw");
    v.pixels = buffer(rays * 4, S | R, "pixels");
    v.readback = buffer(rays * 4, GPUBufferUsage.MAP_READ | D, "pixels readback");
    const module = (name) => device.createShaderModule({ code: spec.wgsl[name], label: name });
    const compute = (name, entryPoint) =>
      device.createComputePipelineAsync({
        layout: "auto",
        compute: { module: module(name), entryPoint },
        label: `${name}.${entryPoint}`,
      });
    const [pointsPipe, gridPipe, mlpPipe, compositePipe] = await Promise.all([
      compute("viewer", "points_main"),
      compute("grid_encode", "forward"),
      compute("mlp", "main"),
      compute("viewer", "composite_main"),
    ]);
    const group = (pipe, entries) =>
      device.createBindGroup({
        layout: pipe.getBindGroupLayout(0),
        entries: entries.map(([binding, b]) => ({ binding, resource: { buffer: b } })),
      });
    v.passes = [];
    for (let first = 0; first < rays; first += perPass) {
      const n = Math.min(perPass, rays - first);
      const uniform = buffer(VIEW_BYTES, GPUBufferUsage.UNIFORM | D, "view");
      const count = buffer(16, S | D, "count");
      device.queue.writeBuffer(count, 0, new Uint32Array([n * v.samples, 0, 0, 0]));
      v.passes.push({
        first,
        rays: n,
        uniform,
        groups: [
          [
            pointsPipe,
            group(pointsPipe, [[0, uniform], [1, pts], [2, times], [3, steps]]),
            Math.ceil((n * v.samples) / WG),
          ],
          [
            gridPipe,
            group(gridPipe, [
              [0, count],
              [1, levelUniform],
              [2, pts],
              [3, times],
              [4, feat],
              ...chunks.map((b, i) => [5 + i, b]),
            ]),
            Math.ceil((n * v.samples * g.levels) / WG),
          ],
          [
            mlpPipe,
            group(mlpPipe, [[0, mlp], [1, feat], [2, raw], [3, count]]),
            Math.ceil((n * v.samples) / WG),
          ],
          [
            compositePipe,
            group(compositePipe, [
              [0, uniform],
              [1, pts],
              [3, steps],
              [4, raw],
              [5, v.pixels],
            ]),
            Math.ceil(n / WG),
          ],
        ],
      });
    }
    v.owned = owned;
    v.present_ = null;
    return v;
  }

  /**
   * Records and submits the render of one view.
   * @param {{thetaDeg?: number, phiDeg: number, time: number, radius?: number}} view
   */
  render(view) {
    const cam = orbitView(
      {
        radius: view.radius ?? this.spec.camera.radius,
        thetaDeg: view.thetaDeg ?? 90,
        phiDeg: view.phiDeg,
        fovyDeg: this.spec.camera.fovyDeg,
      },
      this.width,
      this.height,
    );
    const encoder = this.device.createCommandEncoder({ label: "viewer frame" });
    for (const p of this.passes) {
      const words = new ArrayBuffer(VIEW_BYTES);
      const f = new Float32Array(words), u = new Uint32Array(words);
      f.set(cam.c2w, 0);
      u.set([this.width, this.height, this.samples, p.first, p.rays], 12);
      f.set([cam.focal, cam.cx, cam.cy, Math.min(1, Math.max(0, view.time))], 20);
      f.set([1, 1, 1, 1], 24);
      this.device.queue.writeBuffer(p.uniform, 0, words);
      const pass = encoder.beginComputePass();
      for (const [pipe, group, groups] of p.groups) {
        pass.setPipeline(pipe);
        pass.setBindGroup(0, group);
        dispatch2d(pass, groups);
      }
      pass.end();
    }
    this.device.queue.submit([encoder.finish()]);
  }

  /**
   * Renders one view and reads it back: `width*height` RGBA8 pixels, row-major from the top.
   * @param {{thetaDeg?: number, phiDeg: number, time: number, radius?: number}} view
   * @returns {Promise<Uint8Array>}
   */
  async renderPixels(view) {
    this.render(view);
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(this.pixels, 0, this.readback, 0, this.width * this.height * 4);
    this.device.queue.submit([encoder.finish()]);
    await this.readback.mapAsync(GPUMapMode.READ);
    const out = new Uint8Array(this.readback.getMappedRange().slice(0));
    this.readback.unmap();
    return out;
  }

  /**
   * Draws the last render onto a canvas context configured for this device.
   * @param {GPUCanvasContext} context
   * @param {GPUTextureFormat} format
   */
  present(context, format) {
    const d = this.device;
    if (this.present_ === null || this.present_.format !== format) {
      const module = d.createShaderModule({ code: this.spec.wgsl.present });
      const pipeline = d.createRenderPipeline({
        layout: "auto",
        vertex: { module, entryPoint: "vertex_main" },
        fragment: { module, entryPoint: "fragment_main", targets: [{ format }] },
      });
      const size = d.createBuffer({
        size: 16,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      this.owned.push(size);
      d.queue.writeBuffer(size, 0, new Uint32Array([this.width, this.height, 0, 0]));
      const group = d.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [{ binding: 0, resource: { buffer: size } }, {
          binding: 1,
          resource: { buffer: this.pixels },
        }],
      });
      this.present_ = { format, pipeline, group };
    }
    const encoder = d.createCommandEncoder();
    const pass = encoder.beginRenderPass({
      colorAttachments: [{
        view: context.getCurrentTexture().createView(),
        loadOp: "clear",
        storeOp: "store",
        clearValue: { r: 1, g: 1, b: 1, a: 1 },
      }],
    });
    pass.setPipeline(this.present_.pipeline);
    pass.setBindGroup(0, this.present_.group);
    pass.draw(3);
    pass.end();
    d.queue.submit([encoder.finish()]);
  }

  /** Frees every buffer. */
  destroy() {
    for (const b of this.owned) b.destroy();
    this.owned = [];
  }
}
