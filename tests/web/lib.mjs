// Shared helpers of the browser tests: the server process (free port, temp dir, killed by PID),
// API calls, machine signing (Ed25519 per common/ctl/ctl_auth.h), and chromium.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const BUILD = process.env.ZTNA_BUILD_DIR;
export const SHOTS = path.join(BUILD, 'web-screenshots');
export const PASSWORD = 'correct horse battery staple';

export function check(cond, msg) {
  if (!cond) throw new Error(`check failed: ${msg}`);
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

export class Server {
  constructor(args = []) { this.args = args; }

  async start() {
    const bin = path.join(BUILD, 'server', 'ztna-server');
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'ztna-web-test-'));
    this.port = await freePort();
    const dns = await freePort();
    this.logPath = path.join(this.dir, 'server.log');
    const log = openSync(this.logPath, 'a');
    // Listeners this test does not use are turned off, so parallel tests never collide.
    const help = execFileSync(bin, ['--help'], { encoding: 'utf8' });
    const off = help.includes('--stun-listen') ? ['--stun-listen', 'off'] : [];
    this.proc = spawn(bin, ['--data-dir', this.dir, '--listen', `127.0.0.1:${this.port}`,
      '--dns-listen', `127.0.0.1:${dns}`, ...off, ...this.args], { stdio: ['ignore', log, log] });
    this.base = `http://127.0.0.1:${this.port}`;
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`ztna-server exited during start:\n${this.log()}`);
      try { if ((await fetch(`${this.base}/healthz`)).ok) return this; } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('ztna-server did not answer /healthz in 30 s');
  }

  log() { try { return readFileSync(this.logPath, 'utf8').slice(-4000); } catch { return ''; } }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return this.proc ? this.proc.exitCode : null;
    const done = new Promise((r) => this.proc.once('exit', (code) => r(code)));
    process.kill(this.proc.pid, 'SIGTERM');
    const code = await Promise.race([done, new Promise((r) => setTimeout(() => r('timeout'), 15000))]);
    if (code === 'timeout') process.kill(this.proc.pid, 'SIGKILL');
    return code;
  }

  cleanup() { if (this.dir) rmSync(this.dir, { recursive: true, force: true }); }

  // One request per connection (Connection: close): a kept-alive socket the server closes
  // while idle would fail the next request ("fetch failed") when the machine is busy.
  api(method, p, body, token, headers = {}) {
    const h = { Accept: 'application/json', Connection: 'close', ...headers };
    const data = body === undefined ? null : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    if (data) { h['Content-Type'] = 'application/json'; h['Content-Length'] = data.length; }
    if (token) h.Authorization = `Bearer ${token}`;
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: this.port, method, path: p, headers: h, agent: false,
        timeout: 30000 }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          let env = null;
          try { env = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { /* not JSON */ }
          resolve({ status: res.statusCode, env, data: env && env.data, headers: res.headers });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${p}: no reply in 30 s`)));
      req.on('error', reject);
      if (data) req.write(data);
      req.end();
    });
  }

  async login(email, password = PASSWORD) {
    const r = await this.api('POST', '/api/auth/login', { email, password });
    check(r.status === 200, `login ${email}: ${JSON.stringify(r.env)}`);
    return r.data;
  }
}

// A device: registers with an auth key and sends signed heartbeats.
export class Machine {
  constructor(hostname) {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    this.pk = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    this.sk = privateKey;
    this.hostname = hostname;
  }

  async register(srv, key) {
    const r = await srv.api('POST', '/api/register-machine', {
      machine_key: this.pk.toString('hex'), wg_public_key: randomBytes(32).toString('base64'),
      hostname: this.hostname, os: 'linux', os_version: '6.1',
    }, null, { Authorization: `Bearer ${key}` });
    check(r.status === 201, `register: ${JSON.stringify(r.env)}`);
    this.id = r.data.machine_id;
    this.label = r.data.label;
    return r.data;
  }

  async heartbeat(srv, posture, extra = {}) { // extra: more members, e.g. { stats }
    const body = JSON.stringify({ posture, ...extra });
    const ts = Math.floor(Date.now() / 1000);
    const nonce = randomBytes(16).toString('hex');
    const canon = `ZTNA-MACHINE-AUTH-V1\nPOST\n/api/machine-heartbeat\n${ts}\n${nonce}\n${createHash('sha256').update(body).digest('hex')}\n`;
    const sig = sign(null, Buffer.from(canon), this.sk).toString('hex');
    const r = await srv.api('POST', '/api/machine-heartbeat', body, null,
      { Authorization: `ZTNA-Ed25519 key=${this.pk.toString('hex')},ts=${ts},nonce=${nonce},sig=${sig}` });
    check(r.status === 200, `heartbeat: ${JSON.stringify(r.env)}`);
    return r.data;
  }
}

export async function launch() {
  const require = createRequire(path.join(process.env.ZTNA_WEB_NODE_DIR, 'package.json'));
  const { chromium } = require('playwright-core');
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.ZTNA_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

// Records what a page does that a test must look at: uncaught errors, CSP violations, API
// traffic and WebSocket frames.
export async function instrument(page) {
  const rec = { errors: [], responses: [], requests: [], frames: [] };
  page.on('pageerror', (e) => rec.errors.push(String(e)));
  page.on('request', (r) => rec.requests.push({ method: r.method(), url: r.url(), t: Date.now() }));
  page.on('response', (r) => rec.responses.push({ method: r.request().method(), url: r.url(), status: r.status(), t: Date.now() }));
  page.on('websocket', (ws) => {
    ws.on('framereceived', (f) => { try { rec.frames.push({ dir: 'in', t: Date.now(), ...JSON.parse(f.payload) }); } catch { /* binary */ } });
    ws.on('framesent', (f) => { try { rec.frames.push({ dir: 'out', t: Date.now(), ...JSON.parse(f.payload) }); } catch { /* binary */ } });
  });
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return rec;
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

export async function run(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`${name}: all checks passed (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    process.exit(0);
  } catch (e) {
    console.error(e && e.stack ? e.stack : e);
    console.error(`${name}: FAILED`);
    process.exit(1);
  }
}
