// Pre-auth keys: create (reusable, ephemeral, tags, expiry), show the secret once with a copy
// button, revoke. Admins only (the API refuses members).
import { del, get, post } from '../api.js';
import { badge, clear, confirmDialog, copyText, errorBox, field, fmtTime, formValues, h, toast } from '../dom.js';

const EXPIRY = [['3600', '1 hour'], ['86400', '1 day'], ['604800', '7 days'], ['2592000', '30 days'], ['7776000', '90 days'], ['0', 'Never']];

export async function render({ main, org, live }) {
  const tbody = h('tbody');
  const err = errorBox();
  const secret = h('div', { 'aria-live': 'polite' });

  async function load() {
    const d = await get(`/api/orgs/${org.id}/auth-keys`);
    clear(tbody, d.auth_keys.length ? d.auth_keys.map((k) => h('tr', { 'data-id': k.id },
      h('td', { 'data-label': 'Key' }, h('code', {}, `${k.prefix}…`), h('div', { class: 'muted small' }, k.description || '')),
      h('td', { 'data-label': 'Type' }, [k.reusable ? 'reusable' : 'single use', k.ephemeral ? ', ephemeral' : '']),
      h('td', { 'data-label': 'Tags' }, (k.tags || []).map((t) => badge(t, 'tag'))),
      h('td', { 'data-label': 'State' }, badge(k.state, k.state === 'valid' ? 'ok' : 'muted')),
      h('td', { 'data-label': 'Used' }, String(k.used_count)),
      h('td', { 'data-label': 'Expires' }, k.expires_at ? fmtTime(k.expires_at) : 'never'),
      h('td', { 'data-label': 'Actions' }, k.state === 'valid' && h('button', {
        type: 'button', class: 'small danger', 'aria-label': `Revoke key ${k.prefix}`,
        onclick: async () => {
          if (!await confirmDialog('Revoke this key?', 'Devices can no longer register with it. Registered devices stay.', 'Revoke')) return;
          try { await del(`/api/orgs/${org.id}/auth-keys/${k.id}`); toast('Key revoked'); load(); }
          catch (e) { toast(`Not revoked: ${e.message}`, 'error'); }
        },
      }, 'Revoke'))))
      : h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No keys yet.')));
  }

  const form = h('form', { class: 'card inline-form', 'aria-labelledby': 'new-key-h' },
    h('h2', { id: 'new-key-h' }, 'Create an auth key'),
    field('Description', { name: 'description', maxlength: 128 }),
    field('Reusable', { type: 'checkbox', name: 'reusable' }, 'Register many devices with one key'),
    field('Ephemeral', { type: 'checkbox', name: 'ephemeral' }, 'Devices are removed when they go offline'),
    field('Tags', { name: 'tags', placeholder: 'tag:server, tag:prod' }, 'Comma separated; devices get these tags'),
    field('Expires', { tag: 'select', name: 'expires_in', value: '7776000', options: EXPIRY }),
    err, h('button', { type: 'submit', class: 'primary' }, 'Create key'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.show(null);
    const v = formValues(form);
    try {
      const k = await post(`/api/orgs/${org.id}/auth-keys`, {
        description: v.description, reusable: v.reusable, ephemeral: v.ephemeral,
        tags: v.tags.split(',').map((t) => t.trim()).filter(Boolean), expires_in: Number(v.expires_in),
      });
      showOnce(k.key);
      form.reset();
      load();
    } catch (e) { err.show(e); }
  });

  // The secret exists only in this reply: shown once, copyable, gone when dismissed.
  function showOnce(key) {
    const out = h('input', { type: 'text', readonly: true, value: key, id: 'new-key-secret', class: 'secret', 'aria-label': 'New auth key' });
    const copy = h('button', { type: 'button', class: 'primary' }, 'Copy');
    copy.addEventListener('click', async () => {
      out.select();
      toast(await copyText(key) ? 'Key copied to the clipboard' : 'Select the key and copy it yourself', 'info');
    });
    const done = h('button', { type: 'button' }, 'Done, hide the key');
    done.addEventListener('click', () => { clear(secret); form.querySelector('input').focus(); });
    clear(secret, h('section', { class: 'card once', role: 'region', 'aria-labelledby': 'once-h' },
      h('h2', { id: 'once-h' }, 'Your new auth key'),
      h('p', {}, 'Copy it now: it is shown only once and cannot be retrieved later.'),
      h('div', { class: 'copy-row' }, out, copy),
      h('p', { class: 'muted small' }, 'On the device: ', h('code', {}, `ztna up --server ${location.origin} --auth-key <key>`)),
      done));
    out.focus();
    out.select();
  }

  clear(main, h('h1', {}, 'Auth keys'), secret, form,
    h('div', { class: 'table-wrap' }, h('table', { class: 'list' },
      h('thead', {}, h('tr', {}, ['Key', 'Type', 'Tags', 'State', 'Used', 'Expires', ''].map((t) => h('th', { scope: 'col' }, t)))), tbody)));
  await load();
  // created / revoked in another tab or by another admin: reload; after resync too.
  const offs = [live.on('keys', () => load()), live.on('*', (m) => { if (m.type === 'resync') load(); })];
  return () => offs.forEach((off) => off());
}
