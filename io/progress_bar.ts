/**
 * A one-line training progress display: iteration, percentage, losses, speed, ETA.
 * {@linkcode formatProgress} is pure; {@linkcode ProgressBar} decides when and how
 * to print it (redrawn in place on a terminal, a line every few seconds in a log).
 *
 * @module
 */

/** What {@linkcode formatProgress} shows. */
export interface ProgressState {
  /** Stage or task name shown first, e.g. `static`. */
  label: string;
  /** Iterations done so far. */
  iteration: number;
  /** Iterations in the run. */
  total: number;
  /** Named loss values, shown in insertion order. */
  loss: Record<string, number>;
  /** Wall time since the run (or resume) started, in milliseconds. */
  elapsedMs: number;
  /** Bar width in characters; 0 hides the bar. Defaults to 20. */
  barWidth?: number;
}

/**
 * Seconds as `h:mm:ss` (hours keep growing past 24); `-:--:--` when unknown.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./progress_bar.ts";
 * if (formatDuration(3725) !== "1:02:05") throw new Error(formatDuration(3725));
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "-:--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h}:${String(m).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

/** Four significant digits, switching to exponent form where that would hide digits. */
function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e5 ? String(Number(v.toPrecision(4))) : v.toExponential(2);
}

/**
 * The progress line, without newline or carriage return. Speed is `it/s`, or `s/it`
 * when slower than one iteration a second (CPU adapters); ETA assumes the average
 * speed so far holds.
 *
 * @example
 * ```ts
 * import { formatProgress } from "./progress_bar.ts";
 * const line = formatProgress({
 *   label: "static", iteration: 250, total: 1000, loss: { rgb: 0.0123 }, elapsedMs: 50_000,
 * });
 * // 5 it/s, 750 left: 150 s.
 * if (!line.includes("ETA 0:02:30")) throw new Error(line);
 * ```
 */
export function formatProgress(state: ProgressState): string {
  const { label, iteration, total, loss, elapsedMs } = state;
  const frac = total > 0 ? Math.min(1, Math.max(0, iteration / total)) : 0;
  const parts: string[] = [];
  const width = String(total).length;
  parts.push(`${label} ${String(iteration).padStart(width)}/${total}`);
  parts.push(`${(frac * 100).toFixed(1).padStart(5)}%`);
  const barWidth = state.barWidth ?? 20;
  if (barWidth > 0) {
    const full = Math.floor(frac * barWidth);
    parts.push(`|${"█".repeat(full)}${" ".repeat(barWidth - full)}|`);
  }
  const losses = Object.entries(loss).map(([k, v]) => `${k} ${formatNumber(v)}`);
  if (losses.length > 0) parts.push(losses.join(" "));
  const seconds = elapsedMs / 1000;
  const rate = seconds > 0 ? iteration / seconds : NaN;
  if (!(rate > 0)) parts.push("-- it/s");
  else if (rate >= 1) parts.push(`${rate.toFixed(rate >= 100 ? 0 : 1)} it/s`);
  else parts.push(`${(1 / rate).toFixed(2)} s/it`);
  parts.push(`elapsed ${formatDuration(seconds)}`);
  parts.push(`ETA ${formatDuration(rate > 0 ? Math.max(0, total - iteration) / rate : NaN)}`);
  return parts.join("  ");
}

/** Where {@linkcode ProgressBar} writes; `Deno.stderr` fits. */
export interface ProgressWriter {
  writeSync(p: Uint8Array): number;
  isTerminal?(): boolean;
}

/** Options for {@linkcode ProgressBar}. */
export interface ProgressBarOptions {
  /** Stage or task name shown first. */
  label: string;
  /** Iterations in the run. */
  total: number;
  /** Redraw in place with `\r`; defaults to `writer.isTerminal()`. */
  tty?: boolean;
  /** Off a terminal, print at most one line per this many ms. Defaults to 10 000. */
  logIntervalMs?: number;
  /** On a terminal, redraw at most once per this many ms. Defaults to 100. */
  redrawMs?: number;
  /** Bar width in characters; 0 hides the bar. */
  barWidth?: number;
  /** Clock in ms, for tests; defaults to `performance.now`. */
  now?: () => number;
}

/**
 * Prints {@linkcode formatProgress} lines to a writer the caller supplies, so
 * library code never writes to the console itself. On a terminal the line is
 * redrawn in place (throttled); elsewhere (CI logs, files) a full line is printed
 * every `logIntervalMs`, so logs stay readable.
 *
 * @example
 * ```ts
 * import { ProgressBar } from "./progress_bar.ts";
 * const lines: string[] = [];
 * const writer = { writeSync: (p: Uint8Array) => (lines.push(new TextDecoder().decode(p)), p.length) };
 * const bar = new ProgressBar(writer, { label: "fit", total: 3 });
 * for (let i = 1; i <= 3; i++) bar.update(i, { loss: 1 / i });
 * bar.done();
 * if (lines.length !== 2) throw new Error(lines.join(""));
 * ```
 */
export class ProgressBar {
  readonly #writer: ProgressWriter;
  readonly #options: ProgressBarOptions;
  readonly #tty: boolean;
  readonly #now: () => number;
  readonly #start: number;
  #lastPrint = -Infinity;
  #iteration = 0;
  #loss: Record<string, number> = {};
  #dirty = false;
  #encoder = new TextEncoder();

  constructor(writer: ProgressWriter, options: ProgressBarOptions) {
    this.#writer = writer;
    this.#options = options;
    this.#tty = options.tty ?? writer.isTerminal?.() ?? false;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** Records the latest iteration and losses, printing if the throttle allows. */
  update(iteration: number, loss: Record<string, number> = {}): void {
    this.#iteration = iteration;
    this.#loss = loss;
    this.#dirty = true;
    const now = this.#now();
    const every = this.#tty
      ? (this.#options.redrawMs ?? 100)
      : (this.#options.logIntervalMs ?? 10_000);
    if (now - this.#lastPrint >= every) this.#print(now, false);
  }

  /** Prints the final state and ends the line. */
  done(): void {
    if (this.#dirty || this.#tty) this.#print(this.#now(), true);
  }

  #print(now: number, last: boolean): void {
    this.#lastPrint = now;
    this.#dirty = false;
    const state: ProgressState = {
      label: this.#options.label,
      iteration: this.#iteration,
      total: this.#options.total,
      loss: this.#loss,
      elapsedMs: now - this.#start,
    };
    if (this.#options.barWidth !== undefined) state.barWidth = this.#options.barWidth;
    const line = formatProgress(state);
    // `\x1b[K` clears what is left of a longer previous line.
    const text = this.#tty ? `\r${line}\x1b[K${last ? "\n" : ""}` : `${line}\n`;
    const bytes = this.#encoder.encode(text);
    let done = 0;
    while (done < bytes.length) done += this.#writer.writeSync(bytes.subarray(done));
  }
}
