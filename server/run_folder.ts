/**
 * Run folders under a root: which subfolders are runs, what state each one is in, and
 * which file a request may read. A run is a subfolder holding `events.jsonl` or
 * `config.json`; its id is the folder name. Every path a client names is checked
 * segment by segment and again after resolving symlinks, so nothing outside the run
 * folder is ever served.
 *
 * @module
 */

/** Characters allowed in a run id and in every segment of a file path. */
const SEGMENT = /^[A-Za-z0-9_.-]+$/;

/** A path a client asked for that cannot be served: 400 (malformed) or 404 (absent). */
export class RunPathError extends Error {
  /** HTTP status to answer with. */
  readonly status: 400 | 404;
  /**
   * @param status 400 for a malformed id or path, 404 for one that does not exist
   * @param message what was wrong
   */
  constructor(status: 400 | 404, message: string) {
    super(message);
    this.name = "RunPathError";
    this.status = status;
  }
}

/**
 * Checks a run id: letters, digits, `_`, `.` and `-`, not `.` or `..` nor containing `..`.
 *
 * @param id the folder name a client sent
 * @returns the id
 * @throws {RunPathError} with status 400 naming the bad id
 *
 * @example
 * ```ts
 * import { requireRunId } from "./run_folder.ts";
 * console.log(requireRunId("bouncing_ball")); // bouncing_ball
 * try { requireRunId("../etc"); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function requireRunId(id: string): string {
  if (!SEGMENT.test(id) || id.includes("..") || id === ".") {
    throw new RunPathError(
      400,
      `Invalid run id ${JSON.stringify(id)}: expected letters, digits, _ . - and no ..`,
    );
  }
  return id;
}

function requireRelativePath(path: string): string[] {
  const parts = path.split("/");
  for (const p of parts) {
    if (!SEGMENT.test(p) || p.includes("..") || p === ".") {
      throw new RunPathError(
        400,
        `Invalid file path ${
          JSON.stringify(path)
        }: expected /-separated names of letters, digits, _ . - with no .. or empty parts`,
      );
    }
  }
  return parts;
}

async function realOrNull(path: string): Promise<string | null> {
  try {
    return await Deno.realPath(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The folder of run `id` under `root`, after checking that it is a run.
 *
 * @param root the folder holding the runs
 * @param id the run id
 * @returns the run folder's path (root-relative spelling, no trailing slash)
 * @throws {RunPathError} 400 for a malformed id, 404 when no such run exists
 *
 * @example
 * ```ts
 * import { runFolder } from "./run_folder.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/a`);
 * await Deno.writeTextFile(`${root}/a/config.json`, "{}");
 * console.log((await runFolder(root, "a")).endsWith("/a")); // true
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function runFolder(root: string, id: string): Promise<string> {
  requireRunId(id);
  const folder = `${root.replace(/\/+$/, "")}/${id}`;
  if (!(await isRun(folder))) throw new RunPathError(404, `Unknown run ${id}`);
  return folder;
}

async function isRun(folder: string): Promise<boolean> {
  try {
    if (!(await Deno.stat(folder)).isDirectory) return false;
  } catch {
    return false;
  }
  return await exists(`${folder}/events.jsonl`) || await exists(`${folder}/config.json`);
}

/**
 * Resolves `path` (relative, `/`-separated) inside run `id` to a regular file, refusing
 * anything that would leave the run folder, symlinks included.
 *
 * @param root the folder holding the runs
 * @param id the run id
 * @param path the file inside the run folder, e.g. `static/turntable.gif`
 * @returns the file's real path
 * @throws {RunPathError} 400 for a malformed id or path, 404 when the run or file is absent
 *
 * @example
 * ```ts
 * import { resolveRunFile } from "./run_folder.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/a`);
 * await Deno.writeTextFile(`${root}/a/config.json`, "{}");
 * console.log((await resolveRunFile(root, "a", "config.json")).endsWith("/a/config.json")); // true
 * await resolveRunFile(root, "a", "../a/config.json").catch((e) => console.log(e.status)); // 400
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function resolveRunFile(root: string, id: string, path: string): Promise<string> {
  const parts = requireRelativePath(path);
  const folder = await runFolder(root, id);
  const realFolder = await realOrNull(folder);
  const real = await realOrNull(`${folder}/${parts.join("/")}`);
  if (realFolder === null || real === null) {
    throw new RunPathError(404, `Unknown file ${path} in run ${id}`);
  }
  // A symlink inside the run may point anywhere; only targets inside the folder count.
  if (!real.startsWith(`${realFolder}/`)) {
    throw new RunPathError(404, `Unknown file ${path} in run ${id}`);
  }
  const info = await Deno.stat(real);
  if (!info.isFile) throw new RunPathError(404, `Unknown file ${path} in run ${id}`);
  return real;
}

/**
 * Where a run stands, as the run list reports it.
 *
 * @example A finished run
 * ```ts
 * import { type RunSummary, summariseRun } from "./run_folder.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/ball`);
 * await Deno.writeTextFile(`${root}/ball/config.json`, '{"preset":"tiny","stages":["static","dynamic"]}');
 * await Deno.writeTextFile(
 *   `${root}/ball/events.jsonl`,
 *   '{"type":"progress","stage":"dynamic","iteration":40,"total":40}\n',
 * );
 * await Deno.writeTextFile(`${root}/ball/metrics.json`, '{"psnr":31.5}');
 * const run: RunSummary = await summariseRun(root, "ball");
 * console.log(run.status, run.preset, run.stages, run.progress?.iteration, run.psnr); // done tiny [ "static", "dynamic" ] 40 31.5
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export interface RunSummary {
  /** Folder name. */
  id: string;
  /** Scene source from `config.json`, when known. */
  scene: string | null;
  /** Preset from `config.json`, when known. */
  preset: string | null;
  /** Stages the run was asked to do. */
  stages: string[];
  /** `done` once `metrics.json` exists, else `running` or `stopped` (no events for 60 s). */
  status: "done" | "running" | "stopped";
  /** Last modification of the event log or config, in ms since the epoch. */
  updated: number;
  /** The last progress seen: stage, iteration and total. */
  progress: { stage: string; iteration: number; total: number } | null;
  /** Final PSNR from `metrics.json`, when done. */
  psnr: number | null;
}

/** Seconds without a new event after which an unfinished run counts as stopped. */
const STALE_MS = 60_000;

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  try {
    const value = JSON.parse(await Deno.readTextFile(path));
    return value !== null && typeof value === "object" ? value as Record<string, unknown> : null;
  } catch {
    return null;
  }
}

/** The last progress-like event of an event log, reading only its tail. */
async function lastProgress(path: string): Promise<RunSummary["progress"]> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return null;
  }
  try {
    const size = (await file.stat()).size;
    const take = Math.min(size, 64 * 1024);
    await file.seek(size - take, Deno.SeekMode.Start);
    const bytes = new Uint8Array(take);
    let got = 0;
    while (got < take) {
      const n = await file.read(bytes.subarray(got));
      if (n === null) break;
      got += n;
    }
    const lines = new TextDecoder().decode(bytes.subarray(0, got)).split("\n").reverse();
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      try {
        const e = JSON.parse(line);
        if (typeof e.iteration === "number" && typeof e.total === "number") {
          return { stage: String(e.stage), iteration: e.iteration, total: e.total };
        }
      } catch {
        // A partial first line of the tail window; older lines are further back.
      }
    }
    return null;
  } finally {
    file.close();
  }
}

/**
 * Summarises run `id` under `root`.
 *
 * @param root the folder holding the runs
 * @param id the run id
 * @returns the summary
 * @throws {RunPathError} when the id is malformed or names no run
 */
export async function summariseRun(root: string, id: string): Promise<RunSummary> {
  const folder = await runFolder(root, id);
  const config = await readJson(`${folder}/config.json`);
  const metrics = await readJson(`${folder}/metrics.json`);
  let updated = 0;
  for (const name of ["events.jsonl", "config.json", "metrics.json"]) {
    try {
      updated = Math.max(updated, (await Deno.stat(`${folder}/${name}`)).mtime?.getTime() ?? 0);
    } catch {
      // Missing files simply do not count.
    }
  }
  const status = metrics !== null
    ? "done"
    : Date.now() - updated > STALE_MS
    ? "stopped"
    : "running";
  return {
    id,
    scene: typeof config?.scene === "string" ? config.scene : null,
    preset: typeof config?.preset === "string" ? config.preset : null,
    stages: Array.isArray(config?.stages) ? config.stages.map(String) : [],
    status,
    updated,
    progress: await lastProgress(`${folder}/events.jsonl`),
    psnr: typeof metrics?.psnr === "number" ? metrics.psnr : null,
  };
}

/**
 * Lists the runs under `root`, most recently updated first. A missing root is an empty list.
 *
 * @param root the folder holding the runs
 * @returns one summary per run
 *
 * @example
 * ```ts
 * import { listRuns } from "./run_folder.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/a`);
 * await Deno.writeTextFile(`${root}/a/events.jsonl`, "");
 * await Deno.mkdir(`${root}/not_a_run`);
 * console.log((await listRuns(root)).map((r) => r.id)); // [ "a" ]
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function listRuns(root: string): Promise<RunSummary[]> {
  const runs: RunSummary[] = [];
  try {
    for await (const entry of Deno.readDir(root)) {
      if (!entry.isDirectory || !SEGMENT.test(entry.name) || entry.name.includes("..")) continue;
      if (!(await isRun(`${root}/${entry.name}`))) continue;
      runs.push(await summariseRun(root, entry.name));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return runs.sort((a, b) => b.updated - a.updated || a.id.localeCompare(b.id));
}
