// Every symbol of the published entry points carries a JSDoc `@example` (issue 7); the doc
// tests in `deno task test` then run those examples.
import assert from "assert";

const ENTRY_POINTS = [
  "mod.ts",
  "stages/mod.ts",
  "kernels/mod.ts",
  "priors/mod.ts",
  "server/mod.ts",
];

interface DocTag {
  kind: string;
}
interface DocDeclaration {
  kind: string;
  location: { filename: string };
  jsDoc?: { doc?: string; tags?: DocTag[] };
}
interface DocNode {
  module_doc?: { tags?: DocTag[] };
  symbols: { name: string; declarations: DocDeclaration[] }[];
}

async function docNodes(): Promise<Record<string, DocNode>> {
  const root = new URL("../../", import.meta.url);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", ...ENTRY_POINTS],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return (JSON.parse(new TextDecoder().decode(stdout)) as { nodes: Record<string, DocNode> })
    .nodes;
}

Deno.test("every exported symbol of the entry points has JSDoc with an @example", async () => {
  const nodes = await docNodes();
  const missing = new Set<string>();
  let checked = 0;
  for (const [entry, node] of Object.entries(nodes)) {
    assert.ok(
      node.module_doc?.tags?.some((t) => t.kind === "example"),
      `${entry}: module doc without @example`,
    );
    for (const symbol of node.symbols) {
      for (const d of symbol.declarations) {
        // A re-export points at its declaration, which is checked where it is declared.
        if (d.kind === "reference") continue;
        checked++;
        const file = d.location.filename.replace(
          /^.*?\/(?=(?:kernels|stages|priors|server|io|scenes)\/)/,
          "",
        );
        if (!d.jsDoc?.doc) missing.add(`${file} ${symbol.name}: no JSDoc`);
        else if (!d.jsDoc.tags?.some((t) => t.kind === "example")) {
          missing.add(`${file} ${symbol.name}: no @example`);
        }
      }
    }
  }
  assert.ok(checked > 150, `only ${checked} declarations found`);
  assert.deepEqual([...missing].sort(), []);
});
