// Boot, layout and the hash router. Routes: #/login, #/setup, #/cli-login?req=ID, and the
// org pages below. Every org page gets ctx = {main, org, isAdmin, isOwner, params, query, live,
// go}; it may return a cleanup function, run when the route changes.
import { getSession, onSession, refresh, logout, reloadMe } from './api.js';
import { h, clear, toast } from './dom.js';
import { Live } from './live.js';

const ROLE_RANK = { member: 1, admin: 2, owner: 3 };

const ROUTES = [
  { path: 'login', page: () => import('./pages/auth.js'), fn: 'renderLogin', public: true, title: 'Log in' },
  { path: 'setup', page: () => import('./pages/auth.js'), fn: 'renderSetup', public: true, title: 'First-run setup' },
  { path: 'cli-login', page: () => import('./pages/auth.js'), fn: 'renderCliLogin', bare: true, title: 'Approve CLI login' },
  { path: 'machines', page: () => import('./pages/machines.js'), fn: 'renderList', nav: 'Machines', role: 'member', title: 'Machines' },
  { path: 'machines/:id', page: () => import('./pages/machines.js'), fn: 'renderDetail', role: 'member', title: 'Machine' },
  { path: 'users', page: () => import('./pages/users.js'), fn: 'render', nav: 'Users', role: 'member', title: 'Users' },
  { path: 'keys', page: () => import('./pages/keys.js'), fn: 'render', nav: 'Auth keys', role: 'admin', title: 'Auth keys' },
  { path: 'dns', page: () => import('./pages/dns.js'), fn: 'render', nav: 'DNS', role: 'member', title: 'DNS' },
  { path: 'policy', page: () => import('./pages/policy.js'), fn: 'render', nav: 'Policy', role: 'member', title: 'Policy' },
  { path: 'jit', page: () => import('./pages/jit.js'), fn: 'render', nav: 'Access requests', role: 'member', title: 'Just-in-time access' },
  { path: 'audit', page: () => import('./pages/audit.js'), fn: 'render', nav: 'Audit log', role: 'admin', title: 'Audit log' },
  { path: 'settings', page: () => import('./pages/settings.js'), fn: 'render', nav: 'Settings', role: 'member', title: 'Settings' },
];

const live = new Live();
let cleanup = null;
let renderSeq = 0;

// The user's role in the org changed, or they were removed, while the tab is open (the server
// re-grants the socket: "subscribed" with the new role, or NOT_FOUND): re-read the org list and
// re-render with the new rights. Once per org and role, so a disagreement cannot loop.
let lastRoleFix = '';
live.on('*', (m) => {
  const org = currentOrg();
  if (!getSession() || !org || String(m.org) !== String(org.id)) return;
  const changed = (m.type === 'subscribed' && m.role && m.role !== org.role) || m.type === 'gone';
  const key = `${org.id}:${m.type}:${m.role || ''}`;
  if (!changed || key === lastRoleFix) return;
  lastRoleFix = key;
  reloadMe().then(() => route()).catch(() => {});
});

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  return { path: path || '', query: new URLSearchParams(query) };
}

function match(path) {
  const parts = path.split('/').filter(Boolean);
  for (const r of ROUTES) {
    const rp = r.path.split('/');
    if (rp.length !== parts.length) continue;
    const params = {};
    if (rp.every((seg, i) => (seg.startsWith(':') ? ((params[seg.slice(1)] = decodeURIComponent(parts[i])), true) : seg === parts[i])))
      return { route: r, params };
  }
  return null;
}

export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

export function currentOrg() {
  const s = getSession();
  if (!s || !s.orgs.length) return null;
  const saved = localStorage.getItem('ztna.org');
  return s.orgs.find((o) => String(o.id) === saved) || s.orgs[0];
}

function renderChrome(org) {
  const s = getSession();
  const top = document.getElementById('top');
  top.hidden = !s;
  if (!s) return;
  const rank = org ? ROLE_RANK[org.role] || 0 : 0;
  const { path } = parseHash();
  const nav = document.getElementById('nav');
  clear(nav, h('ul', {}, ROUTES.filter((r) => r.nav && rank >= ROLE_RANK[r.role]).map((r) =>
    h('li', {}, h('a', {
      href: `#/${r.path}`,
      'aria-current': path.split('/')[0] === r.path ? 'page' : null,
    }, r.nav)))));
  const sel = document.getElementById('org-select');
  clear(sel, s.orgs.map((o) => h('option', { value: o.id, selected: org && o.id === org.id }, `${o.name} (${o.role})`)));
  sel.hidden = s.orgs.length < 2;
  document.getElementById('who-email').textContent = s.user.email;
}

async function route() {
  const seq = ++renderSeq;
  const { path, query } = parseHash();
  const main = document.getElementById('main');
  const m = match(path);
  if (!m) {
    location.replace(getSession() ? '#/machines' : '#/login');
    return;
  }
  if (!m.route.public && !getSession()) {
    const next = `${path}${query.toString() ? `?${query}` : ''}`;
    location.replace(`#/login?next=${encodeURIComponent(next)}`);
    return;
  }
  const org = currentOrg();
  const rank = org ? ROLE_RANK[org.role] || 0 : 0;
  if (m.route.role && rank < ROLE_RANK[m.route.role]) {
    location.replace('#/machines');
    return;
  }
  if (cleanup) { try { cleanup(); } catch { /* page already gone */ } cleanup = null; }
  renderChrome(org);
  document.getElementById('top').hidden = !getSession() || !!m.route.public || !!m.route.bare;
  document.title = `${m.route.title} · ztna`;
  clear(main, h('p', { class: 'loading' }, 'Loading…'));
  if (getSession() && org && !m.route.public) live.start(org.id);
  try {
    const mod = await m.route.page();
    if (seq !== renderSeq) return;
    clear(main);
    const ctx = {
      main, org, params: m.params, query, live, go,
      isAdmin: rank >= ROLE_RANK.admin, isOwner: rank >= ROLE_RANK.owner,
    };
    const c = await mod[m.route.fn](ctx);
    if (seq !== renderSeq) { if (typeof c === 'function') c(); return; }
    cleanup = typeof c === 'function' ? c : null;
    const heading = main.querySelector('h1');
    if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
  } catch (e) {
    if (seq !== renderSeq) return;
    clear(main, h('h1', {}, m.route.title), h('p', { class: 'form-error', role: 'alert' },
      `${e.message}${e.code ? ` (${e.code})` : ''}`));
  }
}

function wireChrome() {
  document.getElementById('logout').addEventListener('click', async () => {
    live.stop();
    await logout();
    toast('Logged out');
    go('#/login');
  });
  document.getElementById('org-select').addEventListener('change', (ev) => {
    localStorage.setItem('ztna.org', ev.target.value);
    live.start(ev.target.value);
    route();
  });
  const toggle = document.getElementById('menu-toggle');
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    document.getElementById('top').classList.toggle('open', open);
  });
  document.getElementById('nav').addEventListener('click', (ev) => {
    if (ev.target.closest('a')) {
      toggle.setAttribute('aria-expanded', 'false');
      document.getElementById('top').classList.remove('open');
    }
  });
  onSession((s) => { if (!s) live.stop(); });
}

async function boot() {
  wireChrome();
  await refresh();
  window.addEventListener('hashchange', route);
  await route();
}

boot();
