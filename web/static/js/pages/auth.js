// First-run setup, login (password and SSO), and the CLI browser-login approval page.
import { ApiError, get, getSession, login, post, setup } from '../api.js';
import { clear, errorBox, field, formValues, h } from '../dom.js';

function nextHash(query) {
  const next = query.get('next');
  return next && /^[a-z-]+(\/[\w-]+)?(\?[\w=&%.-]*)?$/i.test(next) ? `#/${next}` : '#/machines';
}

const SSO_ERRORS = {
  access_denied: 'The identity provider refused the sign-in.',
  domain: 'Your email domain is not allowed for this organisation.',
  state: 'The sign-in took too long or was started in another tab; try again.',
};

export async function renderLogin({ main, query, go }) {
  if (getSession()) {
    go(nextHash(query));
    return;
  }
  const err = errorBox();
  const form = h('form', { class: 'card narrow', 'aria-labelledby': 'login-h' },
    h('h1', { id: 'login-h' }, 'Log in'),
    field('Email', { type: 'email', name: 'email', required: true, autocomplete: 'username' }),
    field('Password', { type: 'password', name: 'password', required: true, autocomplete: 'current-password' }),
    err,
    h('button', { type: 'submit', class: 'primary' }, 'Log in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.show(null);
    const v = formValues(form);
    try {
      await login(v.email, v.password);
      go(nextHash(query));
    } catch (e) {
      err.show(e);
    }
  });
  const ssoErr = errorBox();
  const sso = h('form', { class: 'card narrow sso', 'aria-labelledby': 'sso-h' },
    h('h2', { id: 'sso-h' }, 'Sign in with SSO'),
    field('Organisation', { name: 'org', required: true, pattern: '[a-z0-9-]{1,63}', value: query.get('org') || '',
      autocomplete: 'organization' }, 'The short name (slug) of your organisation, e.g. acme-corp'),
    ssoErr,
    h('button', { type: 'submit' }, 'Continue with single sign-on'));
  sso.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const org = formValues(sso).org.trim();
    location.assign(`/api/auth/oidc/start?org=${encodeURIComponent(org)}`);
  });
  const code = query.get('error');
  if (code) ssoErr.show({ message: `Single sign-on failed: ${query.get('message') || SSO_ERRORS[code] || code}` });
  else if (query.get('sso')) ssoErr.show({ message: 'Single sign-on did not complete: no session was created. Try again.' });
  clear(main, form, sso,
    h('p', { class: 'muted center' }, 'New server? ', h('a', { href: '#/setup' }, 'Run the first-time setup')));
}

export async function renderSetup({ main, go }) {
  const err = errorBox();
  const form = h('form', { class: 'card narrow', 'aria-labelledby': 'setup-h' },
    h('h1', { id: 'setup-h' }, 'Set up ztna'),
    h('p', { class: 'muted' }, 'Create the first organisation and its owner account. This works once, on a new server.'),
    field('Organisation name', { name: 'org_name', required: true, maxlength: 128, autocomplete: 'organization' }),
    field('Your name', { name: 'name', maxlength: 128, autocomplete: 'name' }),
    field('Email', { type: 'email', name: 'email', required: true, autocomplete: 'username' }),
    field('Password', { type: 'password', name: 'password', required: true, minlength: 8, autocomplete: 'new-password' },
      'At least 8 characters'),
    err,
    h('button', { type: 'submit', class: 'primary' }, 'Create organisation'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.show(null);
    const v = formValues(form);
    try {
      await setup({ org_name: v.org_name, name: v.name || undefined, email: v.email, password: v.password });
      go('#/machines');
    } catch (e) {
      err.show(e.code === 'CONFLICT' ? new ApiError(409, e.code, 'Setup is already done: log in instead.') : e);
    }
  });
  clear(main, form, h('p', { class: 'muted center' }, h('a', { href: '#/login' }, 'Back to log in')));
}

const CLI_FIELDS = [['hostname', 'Device'], ['port', 'CLI port (on this computer)'], ['created_at', 'Requested'],
  ['expires_at', 'Expires']];

export async function renderCliLogin({ main, query, org }) {
  const id = query.get('req') || '';
  const err = errorBox();
  const card = h('section', { class: 'card narrow', 'aria-labelledby': 'cli-h' },
    h('h1', { id: 'cli-h' }, 'Log in a device with the ztna CLI'));
  clear(main, card);
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(id)) {
    card.append(h('p', { class: 'form-error', role: 'alert' }, 'This link has no valid request id.'));
    return;
  }
  let info = null;
  try {
    info = await get(`/api/cli-login/${encodeURIComponent(id)}`);
  } catch (e) {
    err.show(e);
  }
  const orgs = getSession().orgs;
  const orgSel = field('Log the device into', { tag: 'select', name: 'org', value: org ? org.id : '', options: orgs.map((o) => [o.id, o.name]) });
  const dl = h('dl', { class: 'kv' });
  if (info && typeof info === 'object')
    for (const [k, label] of CLI_FIELDS)
      if (info[k] !== undefined && info[k] !== null)
        dl.append(h('dt', {}, label), h('dd', {}, /_at$/.test(k) ? new Date(info[k] * 1000).toLocaleString() : String(info[k])));
  const approve = h('button', { type: 'button', class: 'primary' }, 'Approve and log in this device');
  const deny = h('button', { type: 'button' }, 'Cancel');
  approve.addEventListener('click', async () => {
    err.show(null);
    approve.disabled = true;
    try {
      const d = await post(`/api/cli-login/${encodeURIComponent(id)}/approve`, { org_id: Number(orgSel.querySelector('select').value) });
      if (!d || typeof d.redirect !== 'string' || !/^http:\/\/(127\.0\.0\.1|\[::1\]|localhost):\d+\//.test(d.redirect))
        throw new Error('the server returned no loopback redirect');
      card.append(h('p', { role: 'status' }, 'Approved. Returning to the CLI…'));
      location.assign(d.redirect);
    } catch (e) {
      approve.disabled = false;
      err.show(e);
    }
  });
  deny.addEventListener('click', () => {
    card.replaceChildren(h('h1', {}, 'Request ignored'), h('p', {}, 'Nothing was approved. You can close this tab.'));
  });
  card.append(
    h('p', {}, 'A ztna CLI asked to log in', org ? ` to ${org.name}` : '', ' as you. Approve only if you just ran ',
      h('code', {}, 'ztna login'), ' yourself on this computer.'),
    dl, orgs.length > 1 ? orgSel : null, err, h('div', { class: 'actions' }, deny, approve));
  if (!info || info.approved || info.expires_in <= 0) {
    approve.disabled = true;
    if (info && info.approved) err.show({ message: 'This request was already approved.' });
    else if (info) err.show({ message: 'This request has expired: run ztna login again.' });
  }
}
