// The dashboard's "Sign in with SSO" in headless chromium, against a real OpenID Provider
// (tests/oidc/provider.mjs, npm oidc-provider, its login form turned on with /__test/accounts):
//   #/login -> Organisation "acme-corp" -> "Continue with single sign-on" -> the provider's own
//   sign-in page (a wrong password is refused there) -> email + password -> back on the
//   dashboard, signed in as a new member (no admin pages offered; the owner's API lists them as
//   member), the realtime socket authenticated; the owner's open users page lists her at once
//   (the "joined" event on the members channel, no reload); promoted to admin and back while
//   her tab is open, her navigation gains and loses "Auth keys" without a reload;
//   a user whose e-mail domain is not in oidc-allowed-domains signs in at the provider and lands
//   on #/login with the server's reason in words, no session and no account created.
// Run by run-sso.sh (installs the provider's npm packages), then run-browser.sh.
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import path from 'node:path';
import { check, freePort, instrument, launch, PASSWORD, run, Server, shot } from './lib.mjs';

const OWNER = 'sso-owner@example.com';
const SECRET = 'secret-rs-0123456789abcdef'; // client "ztna-rs" of provider.mjs
const CAROL = { sub: 'carol', email: 'carol@example.com', email_verified: true, name: 'Carol Engineer',
  groups: ['eng'], password: 'carol-idp-password' };
const MALLORY = { sub: 'mallory', email: 'mallory@elsewhere.test', email_verified: true, name: 'Mallory',
  groups: [], password: 'mallory-idp-password' };

async function startProvider(port, redirectUri) {
  const dir = process.env.ZTNA_OIDC_NPM_DIR;
  check(dir, 'ZTNA_OIDC_NPM_DIR is set by run-sso.sh');
  const log = openSync(path.join(dir, `provider-${port}.log`), 'a');
  const proc = spawn('node', ['provider.mjs', String(port), redirectUri, '1'], { cwd: dir, stdio: ['ignore', 'pipe', log] });
  let out = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the OpenID provider did not start in 30 s')), 30000);
    proc.stdout.on('data', (c) => { out += c; if (out.includes('READY')) { clearTimeout(timer); resolve(); } });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the OpenID provider exited with ${code}`)); });
  });
  return proc;
}

async function control(port, p, body) {
  const r = await fetch(`http://127.0.0.1:${port}${p}`, { method: 'POST', body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', Connection: 'close' } });
  check(r.ok, `provider control ${p}: ${r.status}`);
}

// From the dashboard's login page through the provider's form; returns when the browser is back.
async function ssoLogin(page, srv, issuer, who, t) {
  await page.goto(`${srv.base}/#/login`);
  await page.getByRole('heading', { name: 'Sign in with SSO' }).waitFor(t());
  await page.getByRole('textbox', { name: 'Organisation' }).fill('acme-corp');
  await page.getByRole('button', { name: 'Continue with single sign-on' }).click();
  await page.waitForURL((u) => u.href.startsWith(`${issuer}/interaction/`), t());
  await page.getByRole('heading', { name: 'Test identity provider' }).waitFor(t());
  // The provider refuses a wrong password on its own page; nothing reaches ztna.
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong email or password.' }).waitFor(t());
  check(page.url().startsWith(`${issuer}/interaction/`), `still at the provider: ${page.url()}`);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.href.startsWith(`${srv.base}/`) && !u.pathname.startsWith('/api/'), t(15000));
}

run('web_sso', async () => {
  const opPort = await freePort();
  const issuer = `http://127.0.0.1:${opPort}`;
  const srv = await new Server(['--oidc-org', 'acme-corp', '--oidc-issuer', issuer, '--oidc-client-id', 'ztna-rs',
    '--oidc-client-secret', SECRET, '--oidc-scopes', 'openid email profile groups',
    '--oidc-allowed-domains', 'example.com']).start();
  let op = null;
  const browser = await launch();
  try {
    op = await startProvider(opPort, `${srv.base}/api/auth/oidc/callback`);
    const setup = await srv.api('POST', '/api/auth/setup', { email: OWNER, password: PASSWORD, org_name: 'Acme Corp' });
    check(setup.status === 201, `setup: ${JSON.stringify(setup.env)}`);
    const owner = setup.data.access_token;
    const org = setup.data.orgs[0];
    check(org.slug === 'acme-corp', `org slug: ${JSON.stringify(org)}`);
    await control(opPort, '/__test/accounts', [CAROL, MALLORY]);
    const t = (ms = 10000) => ({ timeout: ms });

    // The owner watches the users page in another browser.
    const octx = await browser.newContext();
    const opage = await octx.newPage();
    const orec = await instrument(opage);
    await opage.goto(`${srv.base}/#/login`);
    await opage.getByRole('heading', { name: 'Log in' }).waitFor(t());
    await opage.getByLabel('Email').fill(OWNER);
    await opage.getByLabel('Password').fill(PASSWORD);
    await opage.getByRole('button', { name: 'Log in' }).click();
    await opage.getByRole('heading', { name: 'Machines' }).waitFor(t());
    await opage.goto(`${srv.base}/#/users`);
    await opage.getByRole('heading', { name: 'Users' }).waitFor(t());
    await opage.locator('table.list tbody').getByText(OWNER).waitFor(t());
    await opage.waitForFunction(() => document.documentElement.dataset.live === 'open', null, t());
    await opage.evaluate(() => { window.__noReload = true; });
    check(!(await opage.locator('table.list').textContent()).includes(CAROL.email), 'carol not listed yet');

    // Carol: allowed domain -> signed in on the dashboard as a member.
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const rec = await instrument(page);
    await ssoLogin(page, srv, issuer, CAROL, t);
    await page.getByRole('heading', { name: 'Machines' }).waitFor(t());
    check(page.url() === `${srv.base}/#/machines`, `landed on the machines page: ${page.url()}`);
    check((await page.locator('#who-email').textContent()) === CAROL.email, 'signed in as carol');
    const nav = await page.locator('#nav').textContent();
    check(nav.includes('Machines') && nav.includes('Users') && !nav.includes('Auth keys') && !nav.includes('Audit log'),
      `a member's navigation (no admin pages): ${nav}`);
    await page.waitForFunction(() => document.documentElement.dataset.live === 'open', null, t());
    const ready = rec.frames.find((f) => f.dir === 'in' && f.type === 'ready');
    const members = await srv.api('GET', `/api/orgs/${org.id}/users`, undefined, owner);
    const carol = (members.data || []).find((u) => u.email === CAROL.email);
    check(carol && carol.role === 'member', `carol is a member of the org: ${JSON.stringify(members.data)}`);
    check(ready && ready.user_id === carol.id, `the realtime socket is carol's: ${JSON.stringify(ready)}`);
    const refreshed = rec.responses.find((r) => r.url.endsWith('/api/auth/refresh') && r.status === 200);
    check(refreshed, 'the dashboard took its session from the SSO refresh cookie');
    await shot(page, 'sso-signed-in');
    await opage.locator('table.list tbody').getByText(CAROL.email).waitFor(t());
    check(await opage.evaluate(() => window.__noReload === true), 'the users page updated without a reload');
    check(orec.frames.some((f) => f.dir === 'in' && f.channel === 'members' && f.data.event === 'joined'
      && f.data.id === carol.id), 'the owner\'s socket got the joined event');
    await shot(opage, 'sso-owner-users-live');
    await octx.close();

    // Her role changes while her tab is open: the navigation follows without a reload.
    await page.evaluate(() => { window.__noReload = true; });
    const setRole = async (role) => {
      const r = await srv.api('PATCH', `/api/orgs/${org.id}/users/${carol.id}`, { role }, owner);
      check(r.status === 200, `role ${role}: ${JSON.stringify(r.env)}`);
    };
    await setRole('admin');
    await page.locator('#nav').getByRole('link', { name: 'Auth keys' }).waitFor(t());
    await setRole('member');
    await page.locator('#nav').getByRole('link', { name: 'Auth keys' }).waitFor({ state: 'detached', timeout: 10000 });
    check(await page.evaluate(() => window.__noReload === true), 'role changes applied without a reload');
    check(rec.errors.length === 0, `page errors after the role changes: ${rec.errors}`);
    const csp = await page.evaluate(() => window.__csp);
    check(csp.length === 0 && rec.errors.length === 0, `no CSP violation or page error: ${csp} ${rec.errors}`);
    await ctx.close();

    // Mallory: the provider signs her in, ztna refuses her domain and says so on the page.
    const ctx2 = await browser.newContext();
    const page2 = await ctx2.newPage();
    const rec2 = await instrument(page2);
    await ssoLogin(page2, srv, issuer, MALLORY, t);
    await page2.waitForURL((u) => u.hash.startsWith('#/login?error=domain_not_allowed'), t());
    const alert = page2.locator('form.sso').getByText('Single sign-on failed:');
    await alert.waitFor(t());
    const text = await alert.textContent();
    check(text.includes('accounts of this e-mail domain may not sign in to this organisation'),
      `the reason in words: ${text}`);
    check(await page2.locator('#top').isHidden(), 'no session: the navigation is hidden');
    await page2.getByRole('heading', { name: 'Log in' }).waitFor(t());
    check(!rec2.frames.some((f) => f.type === 'ready'), 'no realtime session for mallory');
    await shot(page2, 'sso-domain-refused');
    const after = await srv.api('GET', `/api/orgs/${org.id}/users`, undefined, owner);
    check(!(after.data || []).some((u) => u.email === MALLORY.email), 'no account for mallory');
    check(rec2.errors.length === 0, `page errors: ${rec2.errors}`);
    await ctx2.close();
  } catch (e) {
    console.error('--- server log ---\n' + srv.log());
    throw e;
  } finally {
    await browser.close();
    if (op && op.exitCode === null) {
      const gone = new Promise((r) => op.once('exit', r));
      process.kill(op.pid, 'SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10000))]);
      if (op.exitCode === null) process.kill(op.pid, 'SIGKILL');
    }
    const code = await srv.stop();
    srv.cleanup();
    check(code === 0, `ztna-server exit status ${code}`);
  }
});
