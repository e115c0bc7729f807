#!/usr/bin/env node
// Regenerates src/protocol/generated from schema/chat.fbs with flatc (Debian's
// flatbuffers-compiler 2.0.8), then rewrites its extensionless relative imports
// to end in `.js`, which ESM under NodeNext requires.
//
//   node schema/generate.mjs           write src/protocol/generated
//   node schema/generate.mjs --check   fail when the committed code is stale
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const schema = join(root, 'schema', 'chat.fbs');
const target = join(root, 'src', 'protocol', 'generated');
const check = process.argv.includes('--check');

function listFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

function fixImports(source) {
  return source.replace(/(from\s+'(\.{1,2}\/[^']+?))(\.js)?'/g, (_m, head) => `${head}.js'`);
}

const out = mkdtempSync(join(tmpdir(), 'chat-flatc-'));
try {
  try {
    execFileSync('flatc', ['--ts', '-o', out, schema], { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (error) {
    const why = error.code === 'ENOENT' ? 'flatc is not installed (apt-get install flatbuffers-compiler)' : error.message;
    process.stderr.write(`schema/generate.mjs: ${why}\n`);
    process.exit(2);
  }
  for (const file of listFiles(out)) writeFileSync(file, fixImports(readFileSync(file, 'utf8')));

  if (check) {
    const fresh = listFiles(out)
      .map((f) => relative(out, f))
      .sort();
    const committed = listFiles(target)
      .map((f) => relative(target, f))
      .sort();
    const stale = fresh.filter((f) => !committed.includes(f) || readFileSync(join(out, f), 'utf8') !== readFileSync(join(target, f), 'utf8'));
    const extra = committed.filter((f) => !fresh.includes(f));
    if (stale.length || extra.length) {
      process.stderr.write(`generated protocol code is stale: ${[...stale, ...extra].join(', ')}; run npm run gen\n`);
      process.exit(1);
    }
    process.stdout.write('generated protocol code is in sync with schema/chat.fbs\n');
  } else {
    rmSync(target, { recursive: true, force: true });
    mkdirSync(target, { recursive: true });
    cpSync(out, target, { recursive: true });
    process.stdout.write(`wrote ${listFiles(target).length} files to ${relative(root, target)}\n`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
