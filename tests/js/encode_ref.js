#!/usr/bin/env node
// tests/js/encode_ref.js PATH... - GPT-2 token ids of files from two independent JavaScript
// encoders, gpt-tokenizer@4.0.0 (r50k_base) and js-tiktoken@1.0.21 (gpt2).
//
// Each PATH is a file or a folder (every regular file under it, sorted, recursively). For each
// file whose bytes are valid UTF-8 (JavaScript strings cannot hold other bytes), prints
//     FILE<TAB>ID ID ID ...
// with the ids both encoders agree on ("<|endoftext|>" in the text is encoded as plain text).
// Files that are not valid UTF-8 are reported on stderr and skipped. Exit status 1 when the
// two encoders disagree on any file (the file and first differing position on stderr).
//
// node tests/js/encode_ref.js --split PATH... prints instead the UTF-8 byte length of each
// pre-token that gpt-tokenizer's GPT-2 split regex (JavaScript's own \p{L}, \p{N}, \s) finds,
// as `bmx tok split` does.
'use strict';
const fs = require('fs');
const path = require('path');
const gptTokenizer = require('gpt-tokenizer/cjs/encoding/r50k_base');
const { getEncoding } = require('js-tiktoken');
const { R50K_TOKEN_SPLIT_REGEX } = require('gpt-tokenizer/cjs/encodingParams/constants');

const tiktoken = getEncoding('gpt2');
const noSpecial = { disallowedSpecial: new Set() };

function listFiles(p, out) {
  const st = fs.statSync(p);
  if (st.isDirectory()) {
    for (const name of fs.readdirSync(p).sort()) listFiles(path.join(p, name), out);
  } else if (st.isFile()) {
    out.push(p);
  }
  return out;
}

function main(args) {
  if (args.length === 0 || args.includes('--help')) {
    process.stdout.write('usage: node tests/js/encode_ref.js FILE|DIR...\n');
    return args.length === 0 ? 2 : 0;
  }
  const split = args[0] === '--split';
  if (split) args = args.slice(1);
  const files = [];
  for (const a of args) listFiles(a, files);
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let rc = 0;
  const out = [];
  for (const f of files) {
    let text;
    try {
      text = decoder.decode(fs.readFileSync(f));
    } catch (e) {
      process.stderr.write(`encode_ref: ${f}: not valid UTF-8, skipped\n`);
      continue;
    }
    if (split) {
      const lens = [];
      for (const m of text.matchAll(new RegExp(R50K_TOKEN_SPLIT_REGEX.source, 'gu')))
        lens.push(Buffer.byteLength(m[0], 'utf8'));
      out.push(f + '\t' + lens.join(' ') + '\n');
      continue;
    }
    const a = gptTokenizer.encode(text, noSpecial);
    const b = tiktoken.encode(text, [], []);
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    if (i < a.length || i < b.length) {
      process.stderr.write(`encode_ref: ${f}: gpt-tokenizer and js-tiktoken differ at id ${i}\n`);
      rc = 1;
      continue;
    }
    out.push(f + '\t' + a.join(' ') + '\n');
  }
  fs.writeSync(1, out.join(''));
  return rc;
}

process.exitCode = main(process.argv.slice(2));
