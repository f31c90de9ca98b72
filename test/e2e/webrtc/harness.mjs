#!/usr/bin/env node
// Browser-phone harness for the pbx end-to-end tests: one headless Chromium, one page per phone,
// each page a JsSIP or SIP.js user agent, driven over stdin/stdout with JSON lines.
//
// Usage: node harness.mjs [--chromium PATH] [--strict-certs] [--ca-pem FILE] [--keep-tmp]
//   --chromium PATH  the browser (default /usr/bin/chromium; never a downloaded one)
//   --strict-certs   verify TLS certificates (default: ignore certificate errors, so wss:// to a
//                    PBX with a self-signed certificate works)
//   --ca-pem FILE    trust this CA: it goes into an NSS database ($HOME/.pki/nssdb, made with
//                    certutil from libnss3-tools) under a temporary HOME given to Chromium only
//   --keep-tmp       keep the temporary directory (profile, tone file) for debugging
//
// Protocol. Each input line is one JSON command {"id": <any>, "cmd": "<name>", ...arguments};
// each is answered by one line {"id": <same>, "ok": true, ...result} or {"id": <same>,
// "ok": false, "error": "<text>"}. Commands run concurrently (a `call` on one phone may wait
// while another phone `answer`s), so answers can come out of order: match them by id. Besides
// answers the harness writes event lines: {"event": "ready", "chromium": ..., "launch_ms": ...}
// once Chromium is up, and {"event": "fatal", "error": ...} before exiting on a fatal error.
// Nothing else is written to stdout; diagnostics go to stderr. End of input or `quit` closes
// Chromium and exits.
//
// Commands (phone = a name chosen by the test; *_ms arguments are optional timeouts):
//   open {phone, lib: "jssip"|"sipjs", uri, password, ws_url, tone_hz=440, display_name?,
//         auth_user?, expires=600, auto_answer=false}
//       -> {lib, lib_version, jssip_version, sipjs_version, user_agent, mic: {freq_hz, ...}}
//       New page whose fake microphone plays a tone_hz sine (checked before answering); the UA
//       is created but not started.
//   register {phone, timeout_ms?}      -> {registered, status_code, cause}  (starts the UA)
//   unregister {phone, timeout_ms?}    -> {unregistered, status_code}
//   close {phone}                      -> {}  page closed: Chromium closes the WebSocket (1001)
//                                          and sends no un-REGISTER
//   call {phone, target, timeout_ms?}  -> {state: "confirmed"|"failed"|"ended", status_code,
//                                          cause, originator}  audio only; target is a SIP URI
//                                          or a user at the domain of the phone's uri
//   wait_incoming {phone, timeout_ms?} -> {call_id, from, from_display_name, to}  a call rings
//   answer {phone, timeout_ms?}        -> like call; answers the next incoming call
//   reject {phone, status_code=486}    -> {rejected, status_code}
//   hangup {phone, timeout_ms?}        -> {state: "ended"|"failed", ...}  BYE, CANCEL or reject
//   hold / unhold {phone, timeout_ms?} -> {held, ok, status_code}  re-INVITE (JsSIP: no code)
//   restart_ice {phone, timeout_ms?}  -> {ok, status_code}  re-INVITE restarting ICE (JsSIP: no
//                                          code)
//   audio {phone, ms=1000}             -> {freq_hz, level_db, rms_dbfs, bin_hz, sample_rate,
//                                          frames}  dominant received frequency (null if silent)
//   stats {phone}                      -> {inbound, outbound, transport, selected_pair,
//                                          local_candidates, remote_candidates}  from getStats()
//   events {phone, clear=false}        -> {events, frames, console, errors}  UA events, every
//                                          WebSocket frame, console messages, page errors
//   loopback {phone, timeout_ms?}      -> {offer_candidates, answer_candidates, gathered, offer,
//                                          answer}  a local RTCPeerConnection pair in the page,
//                                          both sending the fake microphone; afterwards `audio`
//                                          and `stats` read its receiving side
//   quit {}                            -> {} and exit
// page/phone.js documents the event vocabulary, page/media.js the SDP rewrite that keeps ICE on
// loopback and the audio measurement.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

import { DIST, ensureBundles } from './build.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const TONE_RATE = 48000;
const TONE_SECONDS = 10;
const LIBS = new Set(['jssip', 'sipjs']);
const MAX_CONSOLE = 2000;
const LOOPBACK_EXCLUDES = ['localhost', '127.0.0.1', '[::1]'].map((h) => `EXCLUDE ${h}`).join(', ');

// Chromium honours only the last --disable-features switch, and Playwright passes its own, so
// ours must repeat Playwright 1.65's list (chromiumSwitches.ts) and add what TESTING.md needs:
// WebRtcHideLocalIpsWithMdns off means no mDNS socket and no .local host candidates.
const DISABLED_FEATURES = [
  'AvoidUnnecessaryBeforeUnloadCheckSync',
  'DestroyProfileOnBrowserClose',
  'HttpsUpgrades',
  'HttpsFirstBalancedModeAutoEnable',
  'LensOverlay',
  'MediaRouter',
  'PaintHolding',
  'ThirdPartyStoragePartitioning',
  'AvoidCorsURLLoaderRestartOnRedirect',
  'OptimizationHints',
  'NetworkTimeServiceQuerying',
  'AimEnabled',
  'PreconnectToSearch',
  'WebRtcHideLocalIpsWithMdns',
];

const log = (...parts) => process.stderr.write(`harness: ${parts.join(' ')}\n`);
const emit = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

/** A 16-bit mono PCM WAV of a sine at hz (amplitude -6 dBFS); whole cycles loop cleanly. */
function toneWav(hz) {
  const n = TONE_RATE * TONE_SECONDS;
  const wav = Buffer.alloc(44 + 2 * n);
  wav.write('RIFF', 0);
  wav.writeUInt32LE(36 + 2 * n, 4);
  wav.write('WAVEfmt ', 8);
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(TONE_RATE, 24);
  wav.writeUInt32LE(TONE_RATE * 2, 28);
  wav.writeUInt16LE(2, 32);
  wav.writeUInt16LE(16, 34);
  wav.write('data', 36);
  wav.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) {
    wav.writeInt16LE(Math.round(16383 * Math.sin((2 * Math.PI * hz * i) / TONE_RATE)), 44 + 2 * i);
  }
  return wav;
}

/** Serves page/ and dist/ on 127.0.0.1 (a secure context, so getUserMedia works). */
function startServer() {
  const types = { '.html': 'text/html', '.js': 'text/javascript' };
  const files = {
    '/page/phone.html': join(HERE, 'page', 'phone.html'),
    '/page/media.js': join(HERE, 'page', 'media.js'),
    '/page/phone.js': join(HERE, 'page', 'phone.js'),
    '/dist/jssip.js': join(DIST, 'jssip.js'),
    '/dist/sipjs.js': join(DIST, 'sipjs.js'),
  };
  const server = createServer((req, res) => {
    const path = files[new URL(req.url, 'http://127.0.0.1').pathname];
    if (!path) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': types[path.slice(path.lastIndexOf('.'))],
      'cache-control': 'no-store',
    });
    res.end(readFileSync(path));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** A temporary HOME whose NSS database trusts caPem for TLS servers. */
function nssHome(root, caPem) {
  const home = join(root, 'home');
  const db = join(home, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true });
  execFileSync('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
  // Trust flags "C,,": a CA trusted to issue TLS server certificates.
  execFileSync('certutil', ['-A', '-d', `sql:${db}`, '-n', 'pbx-test', '-t', 'C,,', '-i', caPem]);
  return home;
}

class Harness {
  constructor(opts) {
    this.opts = opts;
    this.phones = new Map();
    this.micLock = Promise.resolve();
    this.closing = false;
  }

  async start() {
    await ensureBundles();
    this.root = mkdtempSync(join(tmpdir(), 'pbx-webrtc-'));
    const profile = join(this.root, 'profile');
    mkdirSync(join(profile, 'Default'), { recursive: true });
    // TESTING.md: this policy stops adapter enumeration; sockets bind to the wildcard address.
    writeFileSync(
      join(profile, 'Default', 'Preferences'),
      JSON.stringify({ webrtc: { ip_handling_policy: 'default_public_and_private_interfaces' } }),
    );
    this.micPath = join(this.root, 'mic.wav');
    writeFileSync(this.micPath, toneWav(440));
    const env = { ...process.env };
    if (this.opts.caPem) env.HOME = nssHome(this.root, this.opts.caPem);
    this.server = await startServer();
    this.baseUrl = `http://127.0.0.1:${this.server.address().port}`;
    const t0 = performance.now();
    this.context = await chromium.launchPersistentContext(profile, {
      executablePath: this.opts.chromium,
      headless: true,
      ignoreHTTPSErrors: !this.opts.strictCerts,
      env,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      // Playwright adds --headless (the new headless mode, the only one since Chromium 132) and
      // --no-sandbox (needed as root); the rest are TESTING.md's flags.
      args: [
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        `--use-file-for-fake-audio-capture=${this.micPath}`,
        '--autoplay-policy=no-user-gesture-required',
        // No DNS at all; the rule would also swallow IP literals, hence the loopback EXCLUDEs.
        `--host-resolver-rules=MAP * ~NOTFOUND, ${LOOPBACK_EXCLUDES}`,
        `--disable-features=${DISABLED_FEATURES.join(',')}`,
      ],
    });
    this.launchMs = Math.round(performance.now() - t0);
    this.context.on('close', () => {
      if (!this.closing) this.fatal('Chromium exited');
    });
    const browser = this.context.browser();
    return {
      event: 'ready',
      chromium: browser ? browser.version() : null,
      launch_ms: this.launchMs,
      page_url: `${this.baseUrl}/page/phone.html`,
      tmp: this.root,
    };
  }

  fatal(error) {
    emit({ event: 'fatal', error });
    this.shutdown().finally(() => process.exit(1));
  }

  async shutdown() {
    if (this.closing) return;
    this.closing = true;
    try {
      if (this.context) await this.context.close();
    } catch (err) {
      log('closing Chromium:', err.message);
    }
    if (this.server) this.server.close();
    if (this.root && !this.opts.keepTmp) rmSync(this.root, { recursive: true, force: true });
  }

  phone(name) {
    const p = this.phones.get(name);
    if (!p) throw new Error(`no phone named ${JSON.stringify(name)}`);
    return p;
  }

  async dispatch(msg) {
    const { id, cmd, ...args } = msg;
    switch (cmd) {
      case 'open':
        return this.open(args);
      case 'close': {
        const p = this.phone(args.phone);
        this.phones.delete(args.phone);
        await p.page.close();
        return {};
      }
      case 'events': {
        const p = this.phone(args.phone);
        const clear = Boolean(args.clear);
        const out = await p.page.evaluate((a) => window.phone.events(a), { clear });
        const result = { ...out, console: p.console, errors: p.errors };
        if (clear) {
          p.console = [];
          p.errors = [];
        }
        return result;
      }
      case 'quit':
        setImmediate(() => this.shutdown().then(() => process.exit(0)));
        return {};
      case 'register':
      case 'unregister':
      case 'call':
      case 'wait_incoming':
      case 'answer':
      case 'reject':
      case 'hangup':
      case 'hold':
      case 'unhold':
      case 'restart_ice':
      case 'audio':
      case 'stats':
      case 'loopback': {
        const p = this.phone(args.phone);
        return p.page.evaluate(([c, a]) => window.phone[c](a), [cmd, args]);
      }
      default:
        throw new Error(`unknown command ${JSON.stringify(cmd)}`);
    }
  }

  async open(args) {
    const { phone: name, lib } = args;
    if (typeof name !== 'string' || !name) throw new Error('open needs a phone name');
    if (this.phones.has(name)) throw new Error(`phone ${JSON.stringify(name)} is already open`);
    if (!LIBS.has(lib)) throw new Error(`lib must be one of ${[...LIBS].join(', ')}`);
    for (const key of ['uri', 'ws_url']) {
      if (typeof args[key] !== 'string') throw new Error(`open needs ${key}`);
    }
    const opts = { tone_hz: 440, expires: 600, auto_answer: false, password: '', ...args };
    const page = await this.context.newPage();
    const p = { page, console: [], errors: [] };
    this.phones.set(name, p);
    page.on('console', (m) => {
      p.console.push({ type: m.type(), text: m.text() });
      if (p.console.length > MAX_CONSOLE) p.console.shift();
    });
    page.on('pageerror', (e) => p.errors.push(String(e)));
    page.on('crash', () => p.errors.push('page crashed'));
    // Chromium reads the fake-capture file each time a capture starts, so one process serves
    // per-phone tones: rewrite the file, then hold the lock until this phone's capture is
    // running and proven to play the tone (phone.init checks the microphone's frequency).
    const run = async () => {
      const tmp = `${this.micPath}.new`;
      writeFileSync(tmp, toneWav(opts.tone_hz));
      renameSync(tmp, this.micPath);
      await page.goto(`${this.baseUrl}/page/phone.html`);
      return page.evaluate((o) => window.phone.init(o), opts);
    };
    const result = this.micLock.then(run);
    this.micLock = result.catch(() => undefined);
    try {
      return await result;
    } catch (err) {
      this.phones.delete(name);
      await page.close().catch(() => undefined);
      throw err;
    }
  }
}

function errorText(err) {
  // Playwright prefixes the API call ("page.evaluate: Error: ..."); the first line is enough.
  const text = String(err && err.message ? err.message : err).split('\n')[0];
  return text.replace(/^page\.\w+: (Error: )?/, '');
}

async function main() {
  const { values } = parseArgs({
    options: {
      chromium: { type: 'string', default: '/usr/bin/chromium' },
      'strict-certs': { type: 'boolean', default: false },
      'ca-pem': { type: 'string' },
      'keep-tmp': { type: 'boolean', default: false },
    },
  });
  const harness = new Harness({
    chromium: values.chromium,
    strictCerts: values['strict-certs'],
    caPem: values['ca-pem'],
    keepTmp: values['keep-tmp'],
  });
  process.on('SIGTERM', () => harness.shutdown().then(() => process.exit(0)));
  try {
    emit(await harness.start());
  } catch (err) {
    emit({ event: 'fatal', error: errorText(err) });
    await harness.shutdown();
    process.exit(1);
  }
  const input = createInterface({ input: process.stdin });
  input.on('line', (line) => {
    if (!line.trim()) return;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      emit({ id: null, ok: false, error: `not JSON: ${line.slice(0, 200)}` });
      return;
    }
    harness.dispatch(msg).then(
      (result) => emit({ id: msg.id, ok: true, ...result }),
      (err) => emit({ id: msg.id, ok: false, error: errorText(err) }),
    );
  });
  input.on('close', () => harness.shutdown().then(() => process.exit(0)));
}

main();
