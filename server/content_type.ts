/**
 * Content types of the files a run folder and the page hold, by extension.
 *
 * @module
 */

const TYPES: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json; charset=utf-8",
  jsonl: "application/x-ndjson; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  yaml: "text/yaml; charset=utf-8",
  yml: "text/yaml; charset=utf-8",
  wgsl: "text/wgsl; charset=utf-8",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  svg: "image/svg+xml",
  mp4: "video/mp4",
  webm: "video/webm",
};

/**
 * The content type of a file name; unknown extensions are `application/octet-stream`.
 *
 * @param name a file name or path
 * @returns the MIME type
 *
 * @example
 * ```ts
 * import { contentType } from "./content_type.ts";
 * console.log(contentType("static/turntable.mp4"), contentType("checkpoint.safetensors"));
 * // video/mp4 application/octet-stream
 * ```
 */
export function contentType(name: string): string {
  const dot = name.lastIndexOf(".");
  const ext = dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
  return TYPES[ext] ?? "application/octet-stream";
}
