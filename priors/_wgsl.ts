/**
 * Loads the WGSL kernels of `priors/`. `kernels/wgsl.ts` resolves files next to itself,
 * so this loader reads `priors/<name>.wgsl` and pulls each `#include "x"` from
 * `kernels/x.wgsl` through it, keeping the line map for compile errors.
 *
 * @module
 */
import { loadWgsl, type WgslSource } from "../kernels/wgsl.ts";

const INCLUDE = /^\s*#include\s+"([A-Za-z0-9_]+)"\s*$/;
const sources = new Map<string, Promise<WgslSource>>();

/**
 * Assembles `priors/<name>.wgsl` with its kernel includes (cached per name).
 *
 * @param name kernel base name, e.g. `sds_grad`
 * @returns the assembled source
 *
 * @example
 * ```ts
 * import { loadPriorWgsl } from "./_wgsl.ts";
 * const src = await loadPriorWgsl("sds_noise");
 * console.log(src.code.includes("fn pcg")); // true
 * ```
 */
export function loadPriorWgsl(name: string): Promise<WgslSource> {
  let source = sources.get(name);
  if (source === undefined) {
    source = assemble(name);
    sources.set(name, source);
    source.catch(() => sources.delete(name));
  }
  return source;
}

async function assemble(name: string): Promise<WgslSource> {
  const url = new URL(`./${name}.wgsl`, import.meta.url);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`Cannot load kernel ${name}: ${url} ${response.status}`);
  const own = (await response.text()).split("\n");
  const lines: string[] = [];
  const origin: string[] = [];
  for (let i = 0; i < own.length; i++) {
    const match = INCLUDE.exec(own[i]!);
    if (match === null) {
      lines.push(own[i]!);
      origin.push(`priors/${name}.wgsl:${i + 1}`);
      continue;
    }
    const inc = await loadWgsl(match[1]!);
    inc.code.split("\n").forEach((line, j) => {
      lines.push(line);
      origin.push(inc.locate(j + 1));
    });
  }
  return {
    name,
    code: lines.join("\n"),
    locate: (line: number) => origin[line - 1] ?? `priors/${name}.wgsl:?${line}`,
  };
}
