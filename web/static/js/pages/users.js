// Users and roles of the org. Admins add members and change roles; only owners grant "owner".
import { del, get, getSession, patch, post } from '../api.js';
import { badge, clear, confirmDialog, errorBox, field, fmtTime, formValues, h, toast } from '../dom.js';

export async function render(ctx) {
  const { main, org, isAdmin, isOwner, live } = ctx;
  const me = getSession().user;
  const tbody = h('tbody');
  const err = errorBox();

  async function load() {
    const users = await get(`/api/orgs/${org.id}/users`);
    clear(tbody, users.map((u) => {
      const roles = isOwner ? ['owner', 'admin', 'member'] : ['admin', 'member'];
      const canEdit = isAdmin && u.id !== me.id && (isOwner || u.role !== 'owner');
      const sel = canEdit && h('select', { 'aria-label': `Role of ${u.email}` },
        roles.map((r) => h('option', { value: r, selected: r === u.role }, r)));
      if (sel) sel.addEventListener('change', async () => {
        try { await patch(`/api/orgs/${org.id}/users/${u.id}`, { role: sel.value }); toast(`${u.email} is now ${sel.value}`); }
        catch (e) { toast(`Role not changed: ${e.message}`, 'error'); sel.value = u.role; }
      });
      return h('tr', {},
        h('td', { 'data-label': 'Email' }, u.email, u.id === me.id ? h('span', { class: 'muted' }, ' (you)') : null),
        h('td', { 'data-label': 'Name' }, u.name || '—'),
        h('td', { 'data-label': 'Role' }, sel || badge(u.role, u.role === 'member' ? 'muted' : 'ok')),
        h('td', { 'data-label': 'Joined' }, fmtTime(u.joined_at || u.created_at)),
        h('td', { 'data-label': 'Actions' }, canEdit && h('button', {
          type: 'button', class: 'small danger', 'aria-label': `Remove ${u.email}`,
          onclick: async () => {
            if (!await confirmDialog(`Remove ${u.email}?`, 'They lose access to this organisation.', 'Remove')) return;
            try { await del(`/api/orgs/${org.id}/users/${u.id}`); toast(`${u.email} removed`); load(); }
            catch (e) { toast(`Not removed: ${e.message}`, 'error'); }
          },
        }, 'Remove')));
    }));
  }

  let add = null;
  if (isAdmin) {
    add = h('form', { class: 'card inline-form', 'aria-labelledby': 'add-h' },
      h('h2', { id: 'add-h' }, 'Add a user'),
      field('Email', { type: 'email', name: 'email', required: true }),
      field('Name', { name: 'name' }),
      field('Role', { tag: 'select', name: 'role', value: 'member', options: (isOwner ? ['member', 'admin', 'owner'] : ['member', 'admin']).map((r) => [r, r]) }),
      field('Initial password', { type: 'password', name: 'password', minlength: 8, autocomplete: 'new-password' }, 'Needed for a new account without SSO'),
      err, h('button', { type: 'submit', class: 'primary' }, 'Add user'));
    add.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.show(null);
      const v = formValues(add);
      try {
        await post(`/api/orgs/${org.id}/users`, { email: v.email, role: v.role, name: v.name || undefined, password: v.password || undefined });
        toast(`${v.email} added`);
        add.reset();
        load();
      } catch (e) { err.show(e); }
    });
  }
  clear(main, h('h1', {}, 'Users'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'list' },
      h('thead', {}, h('tr', {}, ['Email', 'Name', 'Role', 'Joined', ''].map((t) => h('th', { scope: 'col' }, t)))), tbody)),
    add);
  await load();
  // invited / role / removed by anyone: reload; after dropped events (resync) too.
  const offs = [live.on('members', () => load()), live.on('*', (m) => { if (m.type === 'resync') load(); })];
  return () => offs.forEach((off) => off());
}
