/**
 * Small helpers the command-line tasks share: usage errors that exit with status 2, and
 * checks that a file exists or a folder is writable before any work starts.
 *
 * @module
 */

/** Prints `message` and the usage line, then exits with status 2. */
export function failWith(usage: string): (message: string) => never {
  return (message: string) => {
    console.error(`${message}\n${usage}`);
    Deno.exit(2);
  };
}

/** Checks that `dir` exists or can be created and that a file can be written there. */
export async function requireWritableDir(
  dir: string,
  fail: (message: string) => never,
): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
    const probe = `${dir}/.write_test_${Deno.pid}`;
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (error) {
    fail(
      `Invalid option --out: expected a writable folder, got ${JSON.stringify(dir)} (${
        (error as Error).message
      })`,
    );
  }
}

/**
 * Checks that `path` names an existing file; the error names the flag and what kind of
 * file it expected (e.g. `Invalid option --scene: scene file x.yaml does not exist`).
 */
export async function requireFile(
  path: string,
  fail: (message: string) => never,
  options: { option: string; kind: string },
): Promise<void> {
  const { option, kind } = options;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) fail(`Invalid option ${option}: ${path} is not a file`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      fail(`Invalid option ${option}: ${kind} file ${path} does not exist`);
    }
    throw error;
  }
}
