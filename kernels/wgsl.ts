/**
 * Loads WGSL kernels from `kernels/*.wgsl`, expanding `#include "name"` lines, and
 * keeps a line map so compile errors point at the file and line that caused them.
 *
 * @module
 */

/**
 * An assembled WGSL program.
 *
 * @example
 * ```ts
 * import { loadWgsl, type WgslSource } from "./wgsl.ts";
 * const src: WgslSource = await loadWgsl("adam");
 * // Compile errors report lines of the assembled code through `locate`.
 * console.log(src.name, src.locate(1)); // adam adam.wgsl:1
 * ```
 */
export interface WgslSource {
  /** Kernel name (the file's base name). */
  name: string;
  /** The complete source handed to the compiler. */
  code: string;
  /** Maps a 1-based line of `code` to `file.wgsl:line`. */
  locate(line: number): string;
}

const texts = new Map<string, Promise<string>>();

function readText(name: string): Promise<string> {
  let text = texts.get(name);
  if (text === undefined) {
    const url = new URL(`./${name}.wgsl`, import.meta.url);
    // fetch covers both file: URLs and modules served over https (JSR).
    text = fetch(url).then(async (response) => {
      if (!response.ok) throw new Error(`Cannot load kernel ${name}: ${url} ${response.status}`);
      return await response.text();
    }).catch((error) => {
      texts.delete(name);
      throw new Error(`Cannot load kernel ${name} from ${url}: ${(error as Error).message}`);
    });
    texts.set(name, text);
  }
  return text;
}

const INCLUDE = /^\s*#include\s+"([A-Za-z0-9_]+)"\s*$/;

/**
 * Assembles kernel `name`. An `#include "x"` line pulls in `fragments.x` when given
 * (generated code), else the file `kernels/x.wgsl`; each file is included once.
 *
 * @param name kernel base name, e.g. `grid_encode`
 * @param fragments generated WGSL by include name
 * @returns the assembled source with its line map
 *
 * @example
 * ```ts
 * import { loadWgsl } from "./wgsl.ts";
 * const src = await loadWgsl("adam");
 * console.log(src.code.length > 0, src.locate(1));
 * ```
 */
export async function loadWgsl(
  name: string,
  fragments: Record<string, string> = {},
): Promise<WgslSource> {
  const lines: string[] = [];
  const origin: string[] = [];
  const seen = new Set<string>();
  async function expand(part: string, text: string): Promise<void> {
    const own = text.split("\n");
    for (let i = 0; i < own.length; i++) {
      const line = own[i]!;
      const match = INCLUDE.exec(line);
      if (match) {
        const inc = match[1]!;
        if (seen.has(inc)) continue;
        seen.add(inc);
        const fragment = fragments[inc];
        await expand(
          fragment === undefined ? `${inc}.wgsl` : `<generated ${inc}>`,
          fragment ?? await readText(inc),
        );
        continue;
      }
      lines.push(line);
      origin.push(`${part}:${i + 1}`);
    }
  }
  seen.add(name);
  await expand(`${name}.wgsl`, await readText(name));
  return {
    name,
    code: lines.join("\n"),
    locate: (line: number) => origin[line - 1] ?? `${name}.wgsl:?${line}`,
  };
}

/**
 * Wraps WGSL text that does not live in a file (generated code, tests) as a source.
 *
 * @example
 * ```ts
 * import { wgslFromString } from "./wgsl.ts";
 * const src = wgslFromString("demo", "@compute @workgroup_size(1) fn main() {}");
 * console.log(src.locate(1)); // demo:1
 * ```
 */
export function wgslFromString(name: string, code: string): WgslSource {
  return { name, code, locate: (line: number) => `${name}:${line}` };
}
