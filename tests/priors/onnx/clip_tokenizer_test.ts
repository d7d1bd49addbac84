import assert from "assert";
import { CLIP_MAX_LENGTH, ClipTokenizer } from "../../../priors/onnx/clip_tokenizer.ts";
import { tinyClipVocab } from "./_fixtures.ts";

// Merges ordered as BPE ranks: "c a" first, so "cat" becomes ca + t</w>, then cat</w>.
const MERGES = [
  "c a",
  "ca t</w>",
  "o f</w>",
  "p h",
  "ph o",
  "t o</w>",
  "pho to</w>",
  "d o",
  "' s</w>",
  "do g</w>",
];

function padded(ids: number[], pad: number, length = CLIP_MAX_LENGTH): number[] {
  return [...ids, ...new Array(length - ids.length).fill(pad)];
}

Deno.test("clip tokenizer: vocab.json + merges.txt ids, start/end tokens, padding to 77", () => {
  const { vocab, merges } = tinyClipVocab(MERGES);
  const tokenizer = ClipTokenizer.fromVocab(vocab, merges);
  const id = (token: string) => vocab[token]!;
  const bos = id("<|startoftext|>");
  const eos = id("<|endoftext|>");
  assert.deepEqual([tokenizer.bosId, tokenizer.eosId, tokenizer.padId], [bos, eos, eos]);
  assert.deepEqual(tokenizer.tokenize("A  photo\tof a CAT!"), [
    "a</w>",
    "photo</w>",
    "of</w>",
    "a</w>",
    "cat</w>",
    "!</w>",
  ]);
  const ids = tokenizer.encode("A  photo\tof a CAT!");
  assert.equal(ids.length, 77);
  assert.deepEqual(
    [...ids],
    padded([
      bos,
      id("a</w>"),
      id("photo</w>"),
      id("of</w>"),
      id("a</w>"),
      id("cat</w>"),
      id("!</w>"),
      eos,
    ], eos),
  );
  // Words without a full merge fall apart into the merged prefixes and single bytes.
  assert.deepEqual(tokenizer.tokenize("cats dog's 42"), [
    "ca",
    "t",
    "s</w>",
    "dog</w>",
    // CLIP's pattern keeps the contraction whole, so the "' s</w>" merge applies.
    "'s</w>",
    "4</w>",
    "2</w>",
  ]);
  assert.deepEqual([...tokenizer.encode("")], padded([bos, eos], eos));
});

Deno.test("clip tokenizer: long prompts are cut to 75 tokens and keep the end token", () => {
  const { vocab, merges } = tinyClipVocab(MERGES);
  const tokenizer = ClipTokenizer.fromVocab(vocab, merges);
  const ids = [...tokenizer.encode(new Array(100).fill("dog").join(" "))];
  assert.equal(ids.length, 77);
  assert.equal(ids[0], vocab["<|startoftext|>"]);
  assert.ok(ids.slice(1, 76).every((v) => v === vocab["dog</w>"]));
  assert.equal(ids[76], vocab["<|endoftext|>"]);
  const batch = tokenizer.encodeBatch(["dog", "cat"], { dtype: "int64" });
  assert.ok(batch instanceof BigInt64Array);
  assert.equal(batch.length, 154);
  assert.equal(batch[1], BigInt(vocab["dog</w>"]!));
  assert.equal(batch[78], BigInt(vocab["cat</w>"]!));
  assert.equal(batch[153], BigInt(vocab["<|endoftext|>"]!));
});

Deno.test("clip tokenizer: loads a diffusers tokenizer/ folder with its pad token and length", async () => {
  const { vocab, merges } = tinyClipVocab(MERGES);
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/tokenizer`);
  await Deno.writeTextFile(`${dir}/tokenizer/vocab.json`, JSON.stringify(vocab));
  await Deno.writeTextFile(`${dir}/tokenizer/merges.txt`, merges);
  // SD 2-style: pad with "!" and a shorter context to see both settings taken.
  await Deno.writeTextFile(
    `${dir}/tokenizer/special_tokens_map.json`,
    JSON.stringify({ pad_token: { content: "!", lstrip: false } }),
  );
  await Deno.writeTextFile(
    `${dir}/tokenizer/tokenizer_config.json`,
    JSON.stringify({ model_max_length: 8, pad_token: "<|endoftext|>" }),
  );
  const tokenizer = await ClipTokenizer.load(dir);
  assert.equal(tokenizer.maxLength, 8);
  assert.equal(tokenizer.padId, vocab["!"]);
  assert.deepEqual(
    [...tokenizer.encode("a dog")],
    padded(
      [vocab["<|startoftext|>"]!, vocab["a</w>"]!, vocab["dog</w>"]!, vocab["<|endoftext|>"]!],
      vocab["!"]!,
      8,
    ),
  );
  const placeholder = await ClipTokenizer.load(`${dir}/tokenizer`, { addedTokens: ["<cat-toy>"] });
  const next = Math.max(...Object.values(vocab)) + 1;
  assert.deepEqual(placeholder.tokenize("a <cat-toy> dog"), ["a</w>", "<cat-toy>", "dog</w>"]);
  assert.equal(placeholder.encode("a <cat-toy> dog")[2], next);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("clip tokenizer: tokenizer.json gives the same ids as vocab + merges", async () => {
  const { vocab, merges } = tinyClipVocab(MERGES);
  const fromVocab = ClipTokenizer.fromVocab(vocab, merges);
  const json = JSON.parse(JSON.stringify(fromVocab.json));
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(json));
  const fromJson = await ClipTokenizer.load(dir);
  for (const prompt of ["a photo of a cat", "Dog, CAT.", "photos of 3 dogs"]) {
    assert.deepEqual([...fromJson.encode(prompt)], [...fromVocab.encode(prompt)], prompt);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("clip tokenizer: missing files and tokens are named", async () => {
  const dir = await Deno.makeTempDir();
  await assert.rejects(
    () => ClipTokenizer.load(dir),
    /Cannot load CLIP tokenizer from .*: expected tokenizer.json, or vocab.json and merges.txt/,
  );
  await Deno.remove(dir, { recursive: true });
  assert.throws(
    () => ClipTokenizer.fromVocab({ "a</w>": 0, "<|endoftext|>": 1 }, []),
    /Invalid CLIP vocabulary: start token <\|startoftext\|> is missing/,
  );
  const { vocab, merges } = tinyClipVocab([]);
  assert.throws(
    () => ClipTokenizer.fromVocab(vocab, merges, { padToken: "<pad>" }),
    /Invalid CLIP vocabulary: pad token <pad> is missing/,
  );
  assert.throws(
    () => ClipTokenizer.fromVocab(vocab, merges, { maxLength: 1 }),
    /Invalid option maxLength: expected an integer >= 2, got 1/,
  );
});
