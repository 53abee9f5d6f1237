// `ztna login --server URL` (no auth key) with the real agent: the `ztna daemon` (TUN, state dir,
// local socket) and the real CLI, chromium playing the user (run-cli-login-agent.sh runs this
// inside a network namespace of its own). The CLI prints the URL; the user opens it, logs in and
// approves; the browser lands on the CLI's loopback listener; the daemon exchanges the code with
// its own keys and comes up: `ztna status --json` shows it connected as the machine the server
// gives to the approving user. Then the named failures, each exiting non-zero: a callback with a
// wrong state, a callback with the right state and a code the server does not know (the server's
// refusal in the message), no approval before --timeout, and no daemon (found before the URL).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, openSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { BUILD, check, instrument, launch, PASSWORD, run, Server, shot } from './lib.mjs';

const OWNER = 'agent-owner@example.com';
const ZTNA = path.join(BUILD, 'agent', 'ztna');

// Runs `ztna ARGS`; resolves {code, out, err}. onOut sees stdout as it arrives.
function ztna(args, onOut = () => {}, limitMs = 60000) {
  return new Promise((resolve, reject) => {
    const p = spawn(ZTNA, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`ztna ${args[0]} ran over ${limitMs} ms\n${out}\n${err}`)); }, limitMs);
    p.stdout.on('data', (d) => { out += d; onOut(out); });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}

// Starts `ztna login --server URL ...`; resolves {url, port, done} once it printed both lines.
function login(sock, srv, extra = []) {
  let got;
  const printed = new Promise((r) => { got = r; });
  const done = ztna(['login', '--server', srv.base, '--hostname', 'agent-box', '--socket', sock, ...extra], (out) => {
    const u = out.match(/^To log in, open: (\S+)$/m), p = out.match(/on http:\/\/127\.0\.0\.1:(\d+)\/callback/);
    if (u && p) got({ url: u[1], port: Number(p[1]) });
  });
  return Promise.race([printed.then((x) => ({ ...x, done })),
    done.then((r) => { throw new Error(`ztna login exited ${r.code} before printing the URL: ${r.err}`); })]);
}

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false, timeout: 10000 }, (res) => {
      let b = '';
      res.on('data', (c) => { b += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: b }));
    }).on('error', reject);
  });
}

run('web_cli_login_agent', async () => {
  const srv = await new Server().start();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ztna-cli-agent-'));
  const sock = path.join(dir, 'ztna.sock');
  const dlog = path.join(dir, 'daemon.log');
  const daemon = spawn(ZTNA, ['daemon', '--state-dir', path.join(dir, 'state'), '--socket', sock,
    '--tun', `ztcl${process.pid % 100000}`, '--backend', 'userspace', '--log-level', 'debug'], { stdio: ['ignore', openSync(dlog, 'a'), openSync(dlog, 'a')] });
  const browser = await launch();
  try {
    const setup = await srv.api('POST', '/api/auth/setup', { email: OWNER, password: PASSWORD, org_name: 'Agent Org' });
    check(setup.status === 201, `setup: ${JSON.stringify(setup.env)}`);
    const orgId = setup.data.orgs[0].id;
    let st;
    for (let i = 0; i < 100; i++) {
      st = await ztna(['status', '--json', '--socket', sock]).catch(() => null);
      if (st && st.code === 0) break;
      check(daemon.exitCode === null, `the daemon exited: ${readFileSync(dlog, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    check(st && st.code === 0 && JSON.parse(st.out).control.state === 'logged-out', `daemon up, logged out: ${st && st.out}`);

    // 1. The real CLI, the user in chromium.
    const cli = await login(sock, srv);
    check(cli.url.startsWith(`${srv.base}/#/cli-login?req=`), `printed URL: ${cli.url}`);
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const rec = await instrument(page);
    const t = { timeout: 10000 };
    await page.goto(cli.url);
    await page.getByRole('heading', { name: 'Log in' }).waitFor(t);
    await page.getByLabel('Email').fill(OWNER);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Log in a device with the ztna CLI' }).waitFor(t);
    check((await page.locator('dl.kv').textContent()).includes('agent-box'), 'the request shows the CLI\'s hostname');
    await page.getByRole('button', { name: 'Approve and log in this device' }).click();
    await page.waitForURL(new RegExp(`^http://127\\.0\\.0\\.1:${cli.port}/callback`), t);
    await page.getByText('You can close this tab').waitFor(t);
    await shot(page, 'cli-login-agent-done');
    const r = await cli.done;
    check(r.code === 0, `ztna login exit ${r.code}: ${r.err}`);
    check(/^Logged in to \S+ as \S+ \(100\.\d+\.\d+\.\d+\)$/m.test(r.out), `login output: ${r.out}`);
    check(rec.errors.length === 0, `page errors: ${rec.errors}`);
    await ctx.close();

    // The daemon registered with its own keys and runs the session: connected, map received.
    let s;
    for (let i = 0; i < 100; i++) {
      s = JSON.parse((await ztna(['status', '--json', '--socket', sock])).out);
      if (s.control.state === 'connected' && s.control.map_version > 0) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    check(s.control.state === 'connected' && s.control.map_version > 0, `status after login: ${JSON.stringify(s.control)}`);
    const token = (await srv.login(OWNER)).access_token;
    const m = await srv.api('GET', `/api/orgs/${orgId}/machines/${s.self.id}`, undefined, token);
    check(m.status === 200, `the daemon's machine on the server: ${JSON.stringify(m.env)}`);
    check(m.data.user_id === setup.data.user.id, `owned by the approving user: ${JSON.stringify(m.data)}`);
    check(m.data.hostname === 'agent-box' && !m.data.ephemeral, `hostname: ${JSON.stringify(m.data)}`);
    check(m.data.wg_public_key === s.self.public_key, `the daemon's WireGuard key: ${s.self.public_key} vs ${m.data.wg_public_key}`);
    check(m.data.tailnet_ip === s.self.tailnet_ip, `address: ${s.self.tailnet_ip} vs ${m.data.tailnet_ip}`);

    // 2. A callback for another request: state mismatch, nothing sent to the daemon.
    const bad = await login(sock, srv, ['--timeout', '20']);
    const page2 = await get(`http://127.0.0.1:${bad.port}/callback?code=${'ab'.repeat(32)}&state=${'0'.repeat(32)}`);
    check(page2.status === 400, `the browser is told: ${page2.status} ${page2.body}`);
    const r2 = await bad.done;
    check(r2.code === 1 && /state mismatch/.test(r2.err), `wrong state: exit ${r2.code}: ${r2.err}`);

    // 3. The right state, the request approved (here through the API), but a code the server never
    //    issued: the daemon's exchange is refused and the CLI names the server's refusal.
    const forged = await login(sock, srv, ['--timeout', '20']);
    const rid = new URL(forged.url.replace('/#/', '/')).searchParams.get('req');
    const ap = await srv.api('POST', `/api/cli-login/${rid}/approve`, { org_id: orgId }, token);
    check(ap.status === 200 && ap.data.redirect.includes(`state=${rid}`), `approve: ${JSON.stringify(ap.env)}`);
    const page3 = await get(`http://127.0.0.1:${forged.port}/callback?code=${'cd'.repeat(32)}&state=${rid}`);
    check(page3.status === 200, `callback answered: ${page3.status}`);
    const r3 = await forged.done;
    check(r3.code === 1 && /login code rejected: .+ \(INVALID_CODE\)/.test(r3.err), `forged code: exit ${r3.code}: ${r3.err}`);
    const s3 = JSON.parse((await ztna(['status', '--json', '--socket', sock])).out);
    check(s3.self.id === s.self.id && s3.control.state === 'connected', 'a refused exchange leaves the registration alone');

    // 4. Nobody approves: the named timeout.
    const slow = await ztna(['login', '--server', srv.base, '--socket', sock, '--timeout', '2']);
    check(slow.code === 1 && /timed out after 2 s/.test(slow.err), `timeout: exit ${slow.code}: ${slow.err}`);
    const nodaemon = await ztna(['login', '--server', srv.base, '--socket', path.join(dir, 'none.sock'), '--timeout', '2']);
    check(nodaemon.code === 1 && /cannot reach the ztna daemon/.test(nodaemon.err) && !/To log in/.test(nodaemon.out),
      `no daemon: checked before the user is sent to the browser: ${nodaemon.err}`);
    const usage = await ztna(['login', '--socket', sock]);
    check(usage.code === 2 && /--server is required/.test(usage.err), `usage: ${usage.err}`);
  } catch (e) {
    console.error('--- server log ---\n' + srv.log());
    try { console.error('--- daemon log ---\n' + readFileSync(dlog, 'utf8').slice(-4000)); } catch { /* none */ }
    throw e;
  } finally {
    await browser.close();
    if (daemon.exitCode === null) {
      const gone = new Promise((r) => daemon.once('exit', r));
      daemon.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10000))]);
      if (daemon.exitCode === null) daemon.kill('SIGKILL');
    }
    const code = await srv.stop();
    srv.cleanup();
    rmSync(dir, { recursive: true, force: true });
    check(code === 0, `ztna-server exit status ${code}`);
  }
});
