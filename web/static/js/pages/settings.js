// Settings: the org (name, slug), the base domain (read-only: a server setting), and single
// sign-on (OIDC), shown only when the server offers the OIDC settings endpoint.
import { del, get, getSession, patch, put, reloadMe } from '../api.js';
import { clear, confirmDialog, errorBox, field, formValues, h, toast } from '../dom.js';

export async function render({ main, org, isAdmin }) {
  const err = errorBox();
  const o = await get(`/api/orgs/${org.id}`);
  const orgForm = h('form', { class: 'card inline-form', 'aria-labelledby': 'org-h' },
    h('h2', { id: 'org-h' }, 'Organisation'),
    field('Name', { name: 'name', value: o.name, required: true, maxlength: 128, readonly: !isAdmin }),
    field('Slug', { name: 'slug', value: o.slug, required: true, pattern: '[a-z0-9-]{1,63}', readonly: !isAdmin },
      'Used in MagicDNS names (<machine>.<slug>.<base domain>) and in SSO links'),
    err, isAdmin && h('button', { type: 'submit', class: 'primary' }, 'Save'));
  orgForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.show(null);
    const v = formValues(orgForm);
    try {
      await patch(`/api/orgs/${org.id}`, { name: v.name, slug: v.slug });
      await reloadMe();
      toast('Organisation saved');
    } catch (e) { err.show(e); }
  });

  let domain = '';
  try {
    const d = await get(`/api/orgs/${org.id}/machines?limit=1`);
    if (d.machines[0]) domain = d.machines[0].fqdn.slice(d.machines[0].name.length + o.slug.length + 2);
  } catch { /* shown as unknown */ }
  const dns = h('section', { class: 'card', 'aria-labelledby': 'dom-h' }, h('h2', { id: 'dom-h' }, 'Base domain'),
    h('p', {}, domain ? h('code', {}, domain) : h('span', { class: 'muted' }, 'shown once a machine is registered'),
      ' — set with ', h('code', {}, '--base-domain'), ' in the server configuration.'));

  const sso = h('div');
  if (isAdmin) renderOidc(sso, org);
  clear(main, h('h1', {}, 'Settings'), orgForm, dns, sso,
    h('section', { class: 'card', 'aria-labelledby': 'me-h' }, h('h2', { id: 'me-h' }, 'You'),
      h('p', {}, `${getSession().user.email}, ${org.role} of ${org.name}`)));
}

const OIDC_FIELDS = [
  ['issuer', 'Issuer URL', { type: 'url', placeholder: 'https://accounts.example.com' }],
  ['client_id', 'Client id', {}],
  ['client_secret', 'Client secret', { type: 'password', autocomplete: 'off' }, 'Leave empty to keep the stored secret'],
  ['scopes', 'Scopes', { placeholder: 'openid email profile' }],
  ['allowed_domains', 'Allowed email domains', { placeholder: 'example.com, example.org' }, 'Comma separated; empty allows any'],
  ['groups_claim', 'Groups claim', { placeholder: 'groups' }, 'Usable in the policy as group:oidc:<name>'],
];

async function renderOidc(box, org) {
  const path = `/api/orgs/${org.id}/oidc`;
  let cfg;
  try {
    cfg = await get(path);
  } catch (e) {
    if (e.status === 404 && /endpoint/.test(e.message)) return; // this server has no OIDC support
    cfg = {};
  }
  const err = errorBox();
  const list = (v) => (Array.isArray(v) ? v.join(', ') : v || '');
  const fromConfig = cfg.source && cfg.source !== 'org' && cfg.source !== 'db';
  const form = h('form', { class: 'card inline-form', 'aria-labelledby': 'oidc-h' },
    h('h2', { id: 'oidc-h' }, 'Single sign-on (OIDC)'),
    cfg.configured && cfg.login_url ? h('p', {}, 'Users sign in at ', h('code', {}, `${location.origin}${cfg.login_url}`), ' or with "Sign in with SSO" and the slug ', h('code', {}, org.slug), '.') : null,
    fromConfig ? h('p', { class: 'muted' }, `These settings come from the server configuration (${cfg.source}); saving here overrides them for this organisation.`) : null,
    field('Enabled', { type: 'checkbox', name: 'enabled', checked: cfg.configured ? !!cfg.enabled : true }),
    OIDC_FIELDS.map(([k, label, attrs, hint]) => field(label, { name: k, value: k === 'client_secret' ? '' : list(cfg[k]), ...attrs },
      k === 'client_secret' ? (cfg.client_secret_set ? 'A secret is stored; leave empty to keep it' : 'Not set (public client with PKCE)') : hint)),
    h('p', { class: 'muted small' }, 'Redirect URI to register with the provider: ', h('code', {}, cfg.redirect_uri || `${location.origin}/api/auth/oidc/callback`)),
    err,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save SSO settings'),
      cfg.configured && h('button', { type: 'button', class: 'danger', onclick: async () => {
        if (!await confirmDialog('Turn off single sign-on?', 'Users of this organisation can then log in only with a password.', 'Remove SSO')) return;
        try { await del(path); toast('SSO removed'); renderOidc(box, org); } catch (e) { err.show(e); }
      } }, 'Remove SSO')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.show(null);
    const v = formValues(form);
    const body = { enabled: v.enabled, issuer: v.issuer.trim(), client_id: v.client_id.trim(),
      allowed_domains: v.allowed_domains.split(',').map((s) => s.trim()).filter(Boolean), groups_claim: v.groups_claim.trim() };
    if (v.scopes.trim()) body.scopes = v.scopes.trim();
    if (v.client_secret) body.client_secret = v.client_secret;
    try { await put(path, body); toast('SSO settings saved'); renderOidc(box, org); } catch (e) { err.show(e); }
  });
  box.replaceChildren(form);
}
