// `ztna login` through the browser, with Playwright as the user's browser and this script as the
// CLI: POST /api/cli-login/start (PKCE challenge, loopback port) -> the dashboard's
// #/cli-login?req=ID asks a logged-out user to log in first, shows the request, and Approve
// navigates to the CLI's loopback listener with the one-time code -> the CLI exchanges code +
// verifier for the machine's registration, owned by that user. Reloading the page afterwards
// shows the request as already approved (no second approval); the spent code is refused.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { check, freePort, instrument, launch, Machine, PASSWORD, run, Server, shot } from './lib.mjs';

const OWNER = 'cli-owner@example.com';

run('web_cli_login', async () => {
  const srv = await new Server().start();
  const browser = await launch();
  let listener;
  try {
    const setup = await srv.api('POST', '/api/auth/setup', { email: OWNER, password: PASSWORD, org_name: 'CLI Org' });
    check(setup.status === 201, `setup: ${JSON.stringify(setup.env)}`);

    // The CLI: a loopback listener and a PKCE pair.
    const port = await freePort();
    let resolveCallback;
    const callback = new Promise((r) => { resolveCallback = r; });
    listener = http.createServer((req, res) => {
      const u = new URL(req.url, `http://127.0.0.1:${port}`);
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ztna: you can close this tab');
      if (u.pathname === '/callback') resolveCallback(u.searchParams);
    });
    await new Promise((r) => listener.listen(port, '127.0.0.1', r));
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const start = await srv.api('POST', '/api/cli-login/start', { port, code_challenge: challenge, hostname: 'cli-box' });
    check(start.status === 201 || start.status === 200, `start: ${JSON.stringify(start.env)}`);
    const { request_id: rid, url } = start.data;
    check(url.startsWith('/#/cli-login?req='), `login url: ${url}`);

    // The user: logged out, opens the URL the CLI printed.
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const rec = await instrument(page);
    const t = (ms = 10000) => ({ timeout: ms });
    await page.goto(srv.base + url);
    await page.getByRole('heading', { name: 'Log in' }).waitFor(t());
    await page.getByLabel('Email').fill(OWNER);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Log in a device with the ztna CLI' }).waitFor(t());
    check((await page.locator('dl.kv').textContent()).includes('cli-box'), 'the request shows the device');
    check(await page.locator('#top').isHidden(), 'the approval page stands alone (no navigation to wander off)');
    await shot(page, 'cli-login');
    await page.getByRole('button', { name: 'Approve and log in this device' }).click();
    const params = await Promise.race([callback, new Promise((_, rej) => setTimeout(() => rej(new Error('no callback in 10 s')), 10000))]);
    await page.waitForURL(new RegExp(`^http://127\\.0\\.0\\.1:${port}/callback`), t());
    check((await page.textContent('body')).includes('close this tab'), 'the browser landed on the CLI listener');
    const code = params.get('code');
    check(code && code.length >= 16, `one-time code: ${code}`);

    // The CLI exchanges the code for its registration.
    const dev = new Machine('cli-box');
    const body = { request_id: rid, code, code_verifier: verifier, machine_key: dev.pk.toString('hex'),
      wg_public_key: randomBytes(32).toString('base64'), hostname: 'cli-box', os: 'linux', os_version: '6.1' };
    const ex = await srv.api('POST', '/api/cli-login/exchange', body);
    check(ex.status === 201, `exchange: ${JSON.stringify(ex.env)}`);
    const token = (await srv.login(OWNER)).access_token;
    const m = await srv.api('GET', `/api/orgs/${ex.data.org_id}/machines/${ex.data.machine_id}`, undefined, token);
    check(m.status === 200 && m.data.user_id === setup.data.user.id, `machine owned by the approving user: ${JSON.stringify(m.data)}`);
    const again = await srv.api('POST', '/api/cli-login/exchange', body);
    check(again.status >= 400, `the code is single-use: ${again.status}`);

    // Back on the approval page: nothing left to approve.
    await page.goto(srv.base + url);
    await page.getByRole('heading', { name: 'Log in a device with the ztna CLI' }).waitFor(t());
    await page.getByText('This request was already approved.').waitFor(t());
    check(await page.getByRole('button', { name: 'Approve and log in this device' }).isDisabled(), 'no second approval');
    check(rec.errors.length === 0, `page errors: ${rec.errors}`);
    await ctx.close();
  } catch (e) {
    console.error('--- server log ---\n' + srv.log());
    throw e;
  } finally {
    if (listener) listener.close();
    await browser.close();
    const code = await srv.stop();
    srv.cleanup();
    check(code === 0, `ztna-server exit status ${code}`);
  }
});
