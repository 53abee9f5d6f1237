// A real OpenID Provider (npm oidc-provider) for ztna's OIDC tests, on 127.0.0.1 only.
//
//   node provider.mjs PORT REDIRECT_URI KEY_GENERATION
//
// Clients: "ztna-rs" (ID tokens RS256, client_secret_basic) and "ztna-es" (ES256,
// client_secret_post). Keys are generated at start with kids "rsa-<gen>" and "ec-<gen>", so a
// restart with another generation is a key rotation. Login has no UI: the interaction is
// finished at once for the account set by POST /__test/user (a scripted user); consent is
// implicit (loadExistingGrant). Test-only control endpoints:
//   POST /__test/user  {"sub","email","email_verified","name","groups"}  next logins' account
//   POST /__test/mode  {"mode": "..."}  how the NEXT token reply's id_token is altered, once:
//        aud | exp | nonce | iss | tamper (payload changed, signature kept) |
//        rogue_kid (signed by a key the JWKS does not publish)
//   GET  /__test/stats  {"discovery": n, "jwks": n, "token": n}
//   POST /__test/accounts [{"sub","email",...,"password"}, ...]  from then on the interaction
//        is a real login page (an HTML form: Email, Password, "Sign in") that signs in the
//        account whose email and password match, for browser tests; [] returns to scripted.
// Prints "READY <port>" when listening.
import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const [port, redirectUri, gen] = [Number(process.argv[2]), process.argv[3], process.argv[4] || '1'];
const issuer = `http://127.0.0.1:${port}`;

async function keypair(alg, kid) {
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, kid, alg, use: 'sig' };
}
const rsa = await keypair('RS256', `rsa-${gen}`);
const ec = await keypair('ES256', `ec-${gen}`);
const rogue = await keypair('RS256', 'rogue');

let account = { sub: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice', groups: ['eng'] };
let mode = '';
let accounts = []; // with passwords: the interaction shows a login form (browser tests)
const stats = { discovery: 0, jwks: 0, token: 0 };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'ztna-rs', client_secret: 'secret-rs-0123456789abcdef', redirect_uris: [redirectUri],
      grant_types: ['authorization_code'], response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: 'RS256',
    },
    {
      client_id: 'ztna-es', client_secret: 'secret-es-0123456789abcdef', redirect_uris: [redirectUri],
      grant_types: ['authorization_code'], response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post', id_token_signed_response_alg: 'ES256',
    },
  ],
  jwks: { keys: [rsa, ec] },
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'],
  },
  conformIdTokenClaims: false, // put the scope's claims into the ID token itself
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['ztna-oidc-test-cookie-key'] },
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ ...account, sub }),
  }),
  loadExistingGrant: async (ctx) => {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile groups');
    grant.addOIDCClaims(['email', 'email_verified', 'name', 'groups']);
    await grant.save();
    return grant;
  },
});

// Re-signs (or tampers with) the ID token of one token reply, as the test asked.
async function alter(idToken) {
  const m = mode;
  mode = '';
  if (!m) return idToken;
  const [h, p, s] = idToken.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  if (m === 'tamper') {
    claims.email = 'mallory@example.com';
    return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
  }
  const now = Math.floor(Date.now() / 1000);
  if (m === 'aud') claims.aud = 'another-client';
  if (m === 'exp') { claims.iat = now - 7200; claims.exp = now - 3600; }
  if (m === 'nonce') claims.nonce = 'not-the-nonce-of-this-login';
  if (m === 'iss') claims.iss = 'http://127.0.0.1:1/another-issuer';
  let key = header.alg === 'ES256' ? ec : rsa;
  if (m === 'rogue_kid') key = rogue;
  const priv = await jose.importJWK(key, key.alg);
  return new jose.SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: header.typ })
    .sign(priv);
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/.well-known/openid-configuration') stats.discovery++;
  if (ctx.path === '/jwks') stats.jwks++;
  if (ctx.path === '/token') stats.token++;
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && ctx.body && ctx.body.id_token) {
    ctx.body = { ...ctx.body, id_token: await alter(ctx.body.id_token) };
  }
});

const handler = provider.callback();

function readText(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (c) => { data += c; if (data.length > 65536) reject(new Error('too large')); });
    req.on('end', () => resolve(data));
  });
}

async function readJson(req) {
  return JSON.parse((await readText(req)) || '{}');
}

const esc = (t) => String(t).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// The identity provider's own sign-in page (not ztna's), as a user meets it.
function loginPage(res, uid, error) {
  res.statusCode = error ? 401 : 200;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test IdP sign-in</title></head>
<body><h1>Test identity provider</h1>${error ? `<p role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}">
<label>Email <input name="email" type="email" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form></body></html>`);
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (url.pathname === '/__test/user' && req.method === 'POST') {
      account = await readJson(req);
      res.end('{}');
      return;
    }
    if (url.pathname === '/__test/mode' && req.method === 'POST') {
      mode = (await readJson(req)).mode || '';
      res.end('{}');
      return;
    }
    if (url.pathname === '/__test/accounts' && req.method === 'POST') {
      const list = await readJson(req);
      accounts = Array.isArray(list) ? list : [];
      res.end('{}');
      return;
    }
    if (url.pathname === '/__test/stats') {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(stats));
      return;
    }
    if (url.pathname.startsWith('/interaction/')) {
      // The scripted user "logs in" at once, or (accounts set) the user signs in on the form;
      // consent is implicit (loadExistingGrant).
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name !== 'login') throw new Error(`unexpected prompt ${details.prompt.name}`);
      if (accounts.length) {
        if (req.method !== 'POST') {
          loginPage(res, details.uid, '');
          return;
        }
        const form = new URLSearchParams(await readText(req));
        const found = accounts.find((a) => a.email === form.get('email') && a.password === form.get('password'));
        if (!found) {
          loginPage(res, details.uid, 'Wrong email or password.');
          return;
        }
        const { password, ...claims } = found; // eslint-disable-line no-unused-vars
        account = claims;
      }
      await provider.interactionFinished(req, res, { login: { accountId: account.sub } },
        { mergeWithLastSubmission: false });
      return;
    }
    handler(req, res);
  } catch (e) {
    res.statusCode = 500;
    res.end(String(e && e.stack || e));
  }
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`READY ${port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
