// The API client. The access token lives only in this module's memory; the refresh token is the
// HttpOnly __Host-refresh_token cookie, used by POST /api/auth/refresh with the CSRF header. A
// 401 on any call triggers one refresh (shared by concurrent callers) and one retry.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code || 'HTTP_' + status;
  }
}

let accessToken = null;
let session = null;          // {user, orgs}
let refreshing = null;       // the in-flight refresh, shared
const sessionListeners = new Set();

export function getToken() { return accessToken; }
export function getSession() { return session; }
export function onSession(fn) { sessionListeners.add(fn); return () => sessionListeners.delete(fn); }

function setSession(data) {
  accessToken = data ? data.access_token : null;
  session = data ? { user: data.user, orgs: data.orgs || [] } : null;
  for (const fn of sessionListeners) fn(session);
}

async function send(method, path, body, extraHeaders = {}) {
  const headers = { Accept: 'application/json', ...extraHeaders };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (accessToken && !headers.Authorization) headers.Authorization = `Bearer ${accessToken}`;
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'NETWORK', `cannot reach the server (${e.message})`);
  }
  let env = null;
  try { env = await res.json(); } catch { /* not JSON */ }
  return { res, env };
}

function unwrap({ res, env }) {
  if (env && env.success === true) return env.data;
  const err = env && env.error;
  throw new ApiError(res.status, err && err.code, err ? err.message : `HTTP ${res.status} ${res.statusText}`);
}

// Rotates the refresh cookie; resolves true with a fresh session, false when logged out.
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const saved = accessToken;
      accessToken = null;
      try {
        const r = await send('POST', '/api/auth/refresh', undefined, { 'X-ZTNA-CSRF': '1' });
        if (r.env && r.env.success) {
          setSession(r.env.data);
          return true;
        }
        if (r.res.status === 401 || r.res.status === 403) setSession(null);
        else accessToken = saved;
        return false;
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

const NO_RETRY = /^\/api\/auth\/(login|setup|refresh|logout)$/;

export async function api(method, path, body, headers = {}) {
  let r = await send(method, path, body, headers);
  if (r.res.status === 401 && !NO_RETRY.test(path)) {
    if (await refresh()) r = await send(method, path, body, headers);
  }
  return unwrap(r);
}

// A download (a non-envelope success reply, such as the audit export): {text, type, headers}.
// Errors are still envelopes and throw ApiError; 401 refreshes once like api().
export async function download(path) {
  const once = () => fetch(path, { headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : {}, credentials: 'same-origin', cache: 'no-store' });
  let res;
  try {
    res = await once();
    if (res.status === 401 && await refresh()) res = await once();
  } catch (e) {
    throw new ApiError(0, 'NETWORK', `cannot reach the server (${e.message})`);
  }
  const type = res.headers.get('Content-Type') || '';
  if (res.ok && !type.startsWith('application/json')) return { text: await res.text(), type, headers: res.headers };
  let env = null;
  try { env = await res.json(); } catch { /* not JSON */ }
  if (res.ok && env && env.success) return { text: env.data.content, type: env.data.content_type, headers: res.headers };
  const err = env && env.error;
  throw new ApiError(res.status, err && err.code, err ? err.message : `HTTP ${res.status}`);
}

export const get = (p) => api('GET', p);
export const post = (p, b) => api('POST', p, b === undefined ? {} : b);
export const postEmpty = (p) => api('POST', p);
export const patch = (p, b) => api('PATCH', p, b);
export const put = (p, b, headers) => api('PUT', p, b, headers);
export const del = (p) => api('DELETE', p);

export async function login(email, password) {
  const data = unwrap(await send('POST', '/api/auth/login', { email, password }));
  setSession(data);
  return data;
}

export async function setup(body) {
  const data = unwrap(await send('POST', '/api/auth/setup', body));
  setSession(data);
  return data;
}

export async function logout() {
  try {
    await send('POST', '/api/auth/logout', undefined, { 'X-ZTNA-CSRF': '1' });
  } finally {
    setSession(null);
  }
}

// Re-reads /api/me (the org list may have changed).
export async function reloadMe() {
  const me = await get('/api/me');
  session = { user: me, orgs: me.orgs || [] };
  for (const fn of sessionListeners) fn(session);
  return session;
}

export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}
