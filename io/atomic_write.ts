/**
 * Atomic file replacement: write to a temp file next to the target, sync it, rename
 * it over the target. Readers (and a crash) see either the old file or the new one,
 * never a half-written one.
 *
 * @module
 */

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await file.write(bytes.subarray(done));
}

/** The chunk sink handed to the callback of {@linkcode writeFileAtomic}. */
export type WriteChunk = (bytes: Uint8Array) => Promise<void>;

/**
 * Replaces `path` atomically with what `fill` writes. `fill` may be called with
 * chunk after chunk, so large files are streamed rather than built in memory. On
 * any error the temp file is removed and the target is left untouched; the error
 * is rethrown unchanged.
 *
 * @example Replace a file in one step
 * ```ts
 * import { writeFileAtomic } from "./atomic_write.ts";
 * const path = await Deno.makeTempFile();
 * await writeFileAtomic(path, async (write) => {
 *   await write(new TextEncoder().encode("hello "));
 *   await write(new TextEncoder().encode("world"));
 * });
 * if (await Deno.readTextFile(path) !== "hello world") throw new Error("write failed");
 * await Deno.remove(path);
 * ```
 */
export async function writeFileAtomic(
  path: string,
  fill: (write: WriteChunk) => Promise<void>,
): Promise<void> {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  const base = path.slice(slash + 1);
  // Same directory as the target so the rename stays on one filesystem (and is atomic).
  const tmp = `${dir}.${base}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true });
    const f = file;
    await fill((bytes) => writeAll(f, bytes));
    // Without the sync the rename can reach the disk before the data does.
    await file.syncData();
    file.close();
    file = undefined;
    await Deno.rename(tmp, path);
  } catch (err) {
    file?.close();
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}
