/**
 * A small, read-only ZIP reader for the archives `torch.save` writes (SPEC.md §1:
 * `learned_embeds.bin`): it parses the central directory, checks every entry's CRC-32 and
 * inflates deflated entries with `node:zlib`. Stored (method 0) and deflated (method 8)
 * entries and ZIP64 sizes are supported; encryption, multi-disk archives and other
 * methods are refused by name.
 *
 * @example Read an entry of a one-file archive
 * ```ts
 * import { ZipArchive } from "./zip_archive.ts";
 * // "hi.txt" stored with content "hi", as `zip -0` writes it.
 * const bytes = Uint8Array.from(atob(
 *   "UEsDBBQAAAAAAAAAIQCsKpPYAgAAAAIAAAAGAAAAaGkudHh0aGlQSwECFAMUAAAAAAAAACEArCqT2AIAAAACAAAABgAAAAAAAAAAAAAAgAEAAAAAaGkudHh0UEsFBgAAAAABAAEANAAAACYAAAAAAA==",
 * ), (c) => c.charCodeAt(0));
 * const zip = ZipArchive.fromBytes(bytes);
 * console.log(zip.names, new TextDecoder().decode(zip.read("hi.txt"))); // [ "hi.txt" ] hi
 * ```
 *
 * @module
 */
import { inflateRawSync } from "node:zlib";

/**
 * One entry of the central directory.
 *
 * @example
 * ```ts
 * import { crc32, ZipArchive, type ZipEntry } from "./zip_archive.ts";
 * const bytes = Uint8Array.from(atob(
 *   "UEsDBBQAAAAAAAAAIQCsKpPYAgAAAAIAAAAGAAAAaGkudHh0aGlQSwECFAMUAAAAAAAAACEArCqT2AIAAAACAAAABgAAAAAAAAAAAAAAgAEAAAAAaGkudHh0UEsFBgAAAAABAAEANAAAACYAAAAAAA==",
 * ), (c) => c.charCodeAt(0));
 * const entry: ZipEntry = ZipArchive.fromBytes(bytes).entries.get("hi.txt")!;
 * console.log(entry.method, entry.size, entry.crc32 === crc32(new TextEncoder().encode("hi"))); // 0 2 true
 * ```
 */
export interface ZipEntry {
  /** Path inside the archive, `/`-separated. */
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  /** Bytes in the archive. */
  compressedSize: number;
  /** Bytes once inflated. */
  size: number;
  /** CRC-32 of the inflated bytes. */
  crc32: number;
  /** Offset of the entry's local header. */
  localOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

let crcTable: Uint32Array | undefined;

/**
 * CRC-32 (IEEE 802.3, the ZIP checksum).
 *
 * @param bytes data
 * @returns the checksum as an unsigned 32-bit integer
 *
 * @example
 * ```ts
 * import { crc32 } from "./zip_archive.ts";
 * console.log(crc32(new TextEncoder().encode("123456789")).toString(16)); // cbf43926
 * ```
 */
export function crc32(bytes: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A ZIP archive held in memory.
 *
 * @example Missing entries are named
 * ```ts
 * import { ZipArchive } from "./zip_archive.ts";
 * try {
 *   ZipArchive.fromBytes(new Uint8Array(22), "empty.zip");
 * } catch (error) {
 *   console.log((error as Error).message); // Cannot read ZIP archive empty.zip: no end-of-central-directory record
 * }
 * ```
 */
export class ZipArchive {
  /** Entries by name. */
  readonly entries: ReadonlyMap<string, ZipEntry>;
  /** Where the bytes came from, for error messages. */
  readonly source: string;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  private constructor(bytes: Uint8Array, source: string, entries: Map<string, ZipEntry>) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.source = source;
    this.entries = entries;
  }

  /** Entry names in central-directory order. */
  get names(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * Parses the central directory of an archive.
   *
   * @param bytes the whole archive
   * @param source file name for error messages
   * @returns the archive
   *
   * @example
   * ```ts
   * import { ZipArchive } from "./zip_archive.ts";
   * const bytes = Uint8Array.from(atob(
   *   "UEsDBBQAAAAAAAAAIQCsKpPYAgAAAAIAAAAGAAAAaGkudHh0aGlQSwECFAMUAAAAAAAAACEArCqT2AIAAAACAAAABgAAAAAAAAAAAAAAgAEAAAAAaGkudHh0UEsFBgAAAAABAAEANAAAACYAAAAAAA==",
   * ), (c) => c.charCodeAt(0));
   * console.log(ZipArchive.fromBytes(bytes).entries.get("hi.txt")!.size); // 2
   * ```
   */
  static fromBytes(bytes: Uint8Array, source = "(bytes)"): ZipArchive {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const fail = (why: string): never => {
      throw new Error(`Cannot read ZIP archive ${source}: ${why}`);
    };
    let eocd = -1;
    for (let p = bytes.length - 22; p >= Math.max(0, bytes.length - 22 - 65535); p--) {
      if (view.getUint32(p, true) === EOCD) {
        eocd = p;
        break;
      }
    }
    if (eocd < 0) fail("no end-of-central-directory record");
    if (view.getUint16(eocd + 4, true) !== 0 || view.getUint16(eocd + 6, true) !== 0) {
      fail("multi-disk archives are not supported");
    }
    let count = view.getUint16(eocd + 10, true);
    let cdOffset = view.getUint32(eocd + 16, true);
    const locator = eocd - 20;
    if (locator >= 0 && view.getUint32(locator, true) === ZIP64_LOCATOR) {
      const z = Number(view.getBigUint64(locator + 8, true));
      if (z + 56 > bytes.length || view.getUint32(z, true) !== ZIP64_EOCD) {
        fail("broken ZIP64 end-of-central-directory locator");
      }
      count = Number(view.getBigUint64(z + 32, true));
      cdOffset = Number(view.getBigUint64(z + 48, true));
    }
    const entries = new Map<string, ZipEntry>();
    let p = cdOffset;
    const decoder = new TextDecoder("utf-8", { fatal: false });
    for (let i = 0; i < count; i++) {
      if (p + 46 > bytes.length || view.getUint32(p, true) !== CENTRAL) {
        fail(`central-directory entry ${i} is corrupt`);
      }
      const flags = view.getUint16(p + 8, true);
      const method = view.getUint16(p + 10, true);
      const crc = view.getUint32(p + 16, true);
      let compressedSize = view.getUint32(p + 20, true);
      let size = view.getUint32(p + 24, true);
      const nameLength = view.getUint16(p + 28, true);
      const extraLength = view.getUint16(p + 30, true);
      const commentLength = view.getUint16(p + 32, true);
      let localOffset = view.getUint32(p + 42, true);
      const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLength));
      // ZIP64 extra field (id 1): the 64-bit values, in order, of the fields set to 0xffffffff.
      let e = p + 46 + nameLength;
      const extraEnd = e + extraLength;
      while (e + 4 <= extraEnd) {
        const id = view.getUint16(e, true), length = view.getUint16(e + 2, true);
        if (id === 1) {
          let q = e + 4;
          if (size === 0xffffffff) size = Number(view.getBigUint64(q, true)), q += 8;
          if (compressedSize === 0xffffffff) {
            compressedSize = Number(view.getBigUint64(q, true));
            q += 8;
          }
          if (localOffset === 0xffffffff) localOffset = Number(view.getBigUint64(q, true));
        }
        e += 4 + length;
      }
      if (flags & 1) fail(`entry ${name} is encrypted`);
      entries.set(name, { name, method, compressedSize, size, crc32: crc, localOffset });
      p = extraEnd + commentLength;
    }
    return new ZipArchive(bytes, source, entries);
  }

  /**
   * Reads a ZIP file.
   *
   * @param path file path
   * @returns the archive
   *
   * @example
   * ```ts
   * import { ZipArchive } from "./zip_archive.ts";
   * const path = await Deno.makeTempFile();
   * await Deno.writeFile(path, Uint8Array.from(atob(
   *   "UEsDBBQAAAAAAAAAIQCsKpPYAgAAAAIAAAAGAAAAaGkudHh0aGlQSwECFAMUAAAAAAAAACEArCqT2AIAAAACAAAABgAAAAAAAAAAAAAAgAEAAAAAaGkudHh0UEsFBgAAAAABAAEANAAAACYAAAAAAA==",
   * ), (c) => c.charCodeAt(0)));
   * console.log((await ZipArchive.open(path)).names); // [ "hi.txt" ]
   * await Deno.remove(path);
   * ```
   */
  static async open(path: string): Promise<ZipArchive> {
    return ZipArchive.fromBytes(await Deno.readFile(path), path);
  }

  /**
   * The inflated bytes of one entry, checked against its CRC-32.
   *
   * @param name entry path
   * @returns the bytes (a view into the archive for stored entries)
   *
   * @example
   * ```ts
   * import { ZipArchive } from "./zip_archive.ts";
   * const zip = ZipArchive.fromBytes(Uint8Array.from(atob(
   *   "UEsDBBQAAAAAAAAAIQCsKpPYAgAAAAIAAAAGAAAAaGkudHh0aGlQSwECFAMUAAAAAAAAACEArCqT2AIAAAACAAAABgAAAAAAAAAAAAAAgAEAAAAAaGkudHh0UEsFBgAAAAABAAEANAAAACYAAAAAAA==",
   * ), (c) => c.charCodeAt(0)));
   * console.log(zip.read("hi.txt")); // Uint8Array(2) [ 104, 105 ]
   * ```
   */
  read(name: string): Uint8Array {
    const entry = this.entries.get(name);
    const fail = (why: string): never => {
      throw new Error(`Cannot read ${name} from ZIP archive ${this.source}: ${why}`);
    };
    if (entry === undefined) {
      return fail(`no such entry, expected one of ${this.names.join(", ")}`);
    }
    const p = entry.localOffset;
    if (p + 30 > this.#bytes.length || this.#view.getUint32(p, true) !== LOCAL) {
      fail("local header is corrupt");
    }
    // The local header's own name and extra lengths: torch pads the extra field so that
    // tensor data starts on a 64-byte boundary, and it differs from the central copy.
    const start = p + 30 + this.#view.getUint16(p + 26, true) + this.#view.getUint16(p + 28, true);
    const end = start + entry.compressedSize;
    if (end > this.#bytes.length) fail("data runs past the end of the file");
    const raw = this.#bytes.subarray(start, end);
    let data: Uint8Array;
    if (entry.method === 0) data = raw;
    else if (entry.method === 8) data = new Uint8Array(inflateRawSync(raw));
    else return fail(`compression method ${entry.method} is not supported, expected 0 or 8`);
    if (data.length !== entry.size) fail(`expected ${entry.size} bytes, got ${data.length}`);
    if (crc32(data) !== entry.crc32) fail("CRC-32 mismatch");
    return data;
  }
}
