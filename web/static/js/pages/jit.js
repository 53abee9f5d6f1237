// Just-in-time access requests: request, approve, deny, revoke, with a live countdown for
// active grants. Events on the "jit" channel refresh the list without reload.
import { get, getSession, post, postEmpty, qs } from '../api.js';
import { badge, clear, confirmDialog, duration, errorBox, field, fmtTime, formValues, h, toast } from '../dom.js';

const PAGE = 100;
const DURATIONS = [['900', '15 minutes'], ['3600', '1 hour'], ['14400', '4 hours'], ['28800', '8 hours']];
const STATE_KIND = { pending: 'warn', approved: 'ok', active: 'ok', denied: 'bad', revoked: 'muted', expired: 'muted' };

export async function render({ main, org, isAdmin, live }) {
  const base = `/api/orgs/${org.id}/jit-requests`;
  const me = getSession().user;
  const err = errorBox();
  const listErr = errorBox();
  const tbody = h('tbody');
  const stateFilter = field('Show', { tag: 'select', name: 'state', value: '', options: [['', 'All'], ['pending', 'Pending'], ['active', 'Active'], ['denied', 'Denied'], ['expired', 'Expired']] });
  let items = [];

  const stateOf = (r) => {
    const s = r.state || r.status || 'pending';
    if ((s === 'approved' || s === 'active') && r.expires_at && r.expires_at * 1000 <= Date.now()) return 'expired';
    return s === 'approved' ? 'active' : s;
  };

  async function act(r, what) {
    if ((what === 'deny' || what === 'revoke') && !await confirmDialog(`${what === 'deny' ? 'Deny' : 'Revoke'} this request?`,
      `${r.requester_email || r.requester || 'The requester'} loses access to ${r.dst || r.machine_name || 'the destination'}.`, what === 'deny' ? 'Deny' : 'Revoke')) return;
    try { await postEmpty(`${base}/${r.id}/${what}`); toast(`Request ${what === 'approve' ? 'approved' : what === 'deny' ? 'denied' : 'revoked'}`); load(); }
    catch (e) { toast(`${what} failed: ${e.message}`, 'error'); }
  }

  function draw() {
    const want = stateFilter.querySelector('select').value;
    const rows = items.filter((r) => !want || stateOf(r) === want);
    clear(tbody, rows.length ? rows.map((r) => {
      const s = stateOf(r);
      const mine = r.requester_id === me.id || r.user_id === me.id;
      return h('tr', { 'data-id': r.id },
        h('td', { 'data-label': 'Requester' }, r.requester_email || r.requester || r.user_email || String(r.user_id ?? '—')),
        h('td', { 'data-label': 'Destination' }, `${r.machine_name || r.dst || r.machine_id || '—'}${r.port ? `:${r.port}` : ''}${r.proto && r.proto !== 'tcp' ? `/${r.proto}` : ''}`),
        h('td', { 'data-label': 'Reason' }, r.reason || '—'),
        h('td', { 'data-label': 'State' }, badge(s, STATE_KIND[s])),
        h('td', { 'data-label': 'Time left', class: 'countdown' }, s === 'active' && r.expires_at
          ? h('time', { 'data-expires': r.expires_at }, duration(r.expires_at - Date.now() / 1000)) : fmtTime(r.created_at)),
        h('td', { 'data-label': 'Actions' }, h('div', { class: 'row-actions' },
          s === 'pending' && isAdmin && h('button', { type: 'button', class: 'small primary', onclick: () => act(r, 'approve') }, 'Approve'),
          s === 'pending' && isAdmin && h('button', { type: 'button', class: 'small danger', onclick: () => act(r, 'deny') }, 'Deny'),
          (s === 'active' || (s === 'pending' && mine)) && (isAdmin || mine) && h('button', { type: 'button', class: 'small danger', onclick: () => act(r, 'revoke') }, s === 'pending' ? 'Withdraw' : 'Revoke'))));
    }) : h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No requests.')));
  }

  // Newest first, a page at a time (the API's cursor paging); "Load older" appends the next page.
  // A live event reloads the first page.
  let next = null;
  const more = h('button', { type: 'button', hidden: true, onclick: () => load(next) }, 'Load older');
  async function load(cursor) {
    listErr.show(null);
    try {
      const d = await get(`${base}${qs({ limit: PAGE, cursor })}`);
      const page = Array.isArray(d) ? d : d.requests || d.jit_requests || [];
      items = cursor ? items.concat(page.filter((r) => !items.some((o) => o.id === r.id))) : page;
      next = d.next_cursor ?? null;
      more.hidden = next === null;
      draw();
    } catch (e) { listErr.show(e); }
  }

  const form = h('form', { class: 'card inline-form', 'aria-labelledby': 'jit-new-h' },
    h('h2', { id: 'jit-new-h' }, 'Request access'),
    field('Destination machine', { name: 'dst', required: true, placeholder: 'db-1' }),
    field('Port', { type: 'number', name: 'port', min: 1, max: 65535, required: true, placeholder: '5432' }),
    field('Protocol', { tag: 'select', name: 'proto', value: 'tcp', options: [['tcp', 'TCP'], ['udp', 'UDP']] }),
    field('For', { tag: 'select', name: 'duration', value: '3600', options: DURATIONS }),
    field('Reason', { name: 'reason', required: true, maxlength: 256 }),
    err, h('button', { type: 'submit', class: 'primary' }, 'Send request'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.show(null);
    const v = formValues(form);
    try {
      await post(base, { dst: v.dst, port: Number(v.port), proto: v.proto, duration: Number(v.duration), reason: v.reason });
      toast('Request sent');
      form.reset();
      load();
    } catch (e) { err.show(e); }
  });
  stateFilter.addEventListener('change', draw);

  clear(main, h('h1', {}, 'Just-in-time access'),
    h('p', { class: 'muted' }, 'Rules marked requireJit only allow traffic while a grant is active. Approvers see pending requests here as they arrive.'),
    form, h('h2', {}, 'Requests'), stateFilter, listErr,
    h('div', { class: 'table-wrap' }, h('table', { class: 'list' },
      h('thead', {}, h('tr', {}, ['Requester', 'Destination', 'Reason', 'State', 'Time left', ''].map((t) => h('th', { scope: 'col' }, t)))), tbody)),
    more);
  await load();
  const tick = setInterval(() => {
    let expired = false;
    for (const t of main.querySelectorAll('time[data-expires]')) {
      const left = Number(t.dataset.expires) - Date.now() / 1000;
      t.textContent = duration(left);
      if (left <= 0) expired = true;
    }
    if (expired) draw();
  }, 1000);
  // request / approved / denied / revoked / expired (the server's expiry timer): reload, so a
  // countdown ends with the server's state, not only the browser clock's.
  const offs = [live.on('jit', () => load(null)), live.on('*', (m) => { if (m.type === 'resync') load(null); })];
  return () => { clearInterval(tick); offs.forEach((off) => off()); };
}
