#!/usr/bin/env node
// bench/js_encode_bench.js DOCS LENGTHS - encode throughput of the JavaScript GPT-2 encoders
// gpt-tokenizer@4.0.0 (r50k_base) and js-tiktoken@1.0.21 (gpt2) on the same documents as
// bench/bench_tok.c. DOCS holds the documents back to back (UTF-8), LENGTHS their byte
// lengths, one per line. Each encoder is warmed up on the first megabyte, then times one pass
// over every document (one string per document, decoded from UTF-8 before the clock starts).
// Prints one JSON object: per encoder MB/s, seconds and the total number of ids.
'use strict';
const fs = require('fs');
const gptTokenizer = require('gpt-tokenizer/cjs/encoding/r50k_base');
const { getEncoding } = require('js-tiktoken');

function main(args) {
  if (args.length !== 2) {
    process.stderr.write('usage: node bench/js_encode_bench.js DOCS LENGTHS\n');
    return 2;
  }
  const buf = fs.readFileSync(args[0]);
  const lens = fs.readFileSync(args[1], 'utf8').split('\n').filter((s) => s.length).map(Number);
  const docs = [];
  let off = 0;
  for (const n of lens) {
    docs.push(buf.toString('utf8', off, off + n));
    off += n;
  }
  if (off !== buf.length) throw new Error(`lengths add up to ${off}, file has ${buf.length} bytes`);
  const tiktoken = getEncoding('gpt2');
  const noSpecial = { disallowedSpecial: new Set() };
  const encoders = {
    gpt_tokenizer: (s) => gptTokenizer.encode(s, noSpecial),
    js_tiktoken: (s) => tiktoken.encode(s, [], []),
  };
  const out = { bytes: off, docs: docs.length };
  for (const [name, enc] of Object.entries(encoders)) {
    let warm = 0;
    for (const d of docs) {
      if (warm > (1 << 20)) break;
      enc(d);
      warm += d.length;
    }
    const t0 = process.hrtime.bigint();
    let tokens = 0;
    for (const d of docs) tokens += enc(d).length;
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    out[name] = { mb_per_s: off / 1e6 / s, seconds: s, tokens };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  return 0;
}

process.exitCode = main(process.argv.slice(2));
