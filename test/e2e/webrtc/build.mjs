// Bundles JsSIP and SIP.js into browser IIFE scripts for the phone page (page/phone.html).
//
// jssip 3.13 ships CommonJS sources only (no dist/ bundle) and sip.js 0.21 ships ES modules, so
// both are bundled with esbuild's API: dist/jssip.js defines the global `JsSIP` and dist/sipjs.js
// the global `SIP`. harness.mjs calls ensureBundles() at start; it rebuilds when a bundle is
// missing or older than package.json. Run by hand with `node build.mjs`.

import { build } from 'esbuild';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const DIST = join(HERE, 'dist');

// [output file, package entry, global name]
const BUNDLES = [
  ['jssip.js', 'jssip', 'JsSIP'],
  ['sipjs.js', 'sip.js', 'SIP'],
];

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}

/** Builds the bundles that are missing or older than package.json; returns the files built. */
export async function ensureBundles() {
  const reference = mtime(join(HERE, 'package.json'));
  const built = [];
  mkdirSync(DIST, { recursive: true });
  for (const [file, entry, globalName] of BUNDLES) {
    const out = join(DIST, file);
    const have = mtime(out);
    if (have !== null && have >= reference) continue;
    await build({
      entryPoints: [entry],
      absWorkingDir: HERE,
      bundle: true,
      format: 'iife',
      globalName,
      platform: 'browser',
      target: 'chrome120',
      outfile: out,
      logLevel: 'warning',
    });
    built.push(out);
  }
  return built;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const built = await ensureBundles();
  process.stdout.write(built.length ? `built ${built.join(', ')}\n` : 'bundles up to date\n');
}
