// Machines: the list (search, filters, live online state, quarantine, posture, PQ state) and the
// detail page (posture checks of the policy, quarantine reason), with the admin actions rename,
// retag, expire and delete (confirmed).
import { del, get, patch, postEmpty, qs } from '../api.js';
import { badge, clear, confirmDialog, errorBox, field, fmtTime, h, promptDialog, relTime, toast } from '../dom.js';

const PAGE = 50;

// The policy's posture checks (posture_checks: the postures a rule needs) when there are any,
// else what the report's booleans say.
function postureOf(m) {
  const checks = m.posture_checks || [];
  if (checks.length) {
    const failed = checks.filter((c) => !c.pass);
    return { ok: failed.length === 0, failed: failed.map((c) => c.name), why: failed.map((c) => `${c.name}: ${c.failed}`) };
  }
  const p = m.posture || {};
  const bools = Object.entries(p).filter(([, v]) => typeof v === 'boolean');
  if (!bools.length) return null;
  const failed = bools.filter(([, v]) => !v).map(([k]) => k);
  return { ok: failed.length === 0, failed, why: [] };
}

function postureBadge(m) {
  const p = postureOf(m);
  if (!p) return badge('no report', 'muted');
  if (p.ok) return badge('pass', 'ok');
  const b = badge(`fail: ${p.failed.join(', ')}`, 'bad');
  if (p.why.length) b.title = p.why.join('; ');
  return b;
}

// Issue 7: the PQ counters of the latest heartbeat (m.pq, null until reported) as
// "PQ 3/3", plus "1 classical" and "2 failing" when there are such peers.
function pqParts(m) {
  const pq = m.pq;
  if (!pq || typeof pq !== 'object' || typeof pq.peers !== 'number') return null;
  if (pq.peers === 0) return [['no peers', 'muted']];
  const n = typeof pq.peers_pq === 'number' ? pq.peers_pq : 0;
  const parts = [[`PQ ${n}/${pq.peers}`, n === pq.peers ? 'ok' : 'warn']];
  if (pq.classical > 0) parts.push([`${pq.classical} classical`, 'warn']);
  if (pq.failing > 0) parts.push([`${pq.failing} failing`, 'bad']);
  return parts;
}

function pqCell(m) {
  const parts = pqParts(m);
  return parts ? h('span', { class: 'pq' }, parts.map(([t, k]) => badge(t, k))) : '—';
}

function pqText(m) {
  const parts = pqParts(m);
  if (!parts) return 'not reported';
  return `${parts.map(([t]) => t).join(', ')} (reported ${relTime(m.pq.reported_at)})`;
}

// Issue 6: the server quarantines a machine whose posture report is missing or stale.
function quarantineBadge(m) {
  const q = m.quarantine;
  if (!q || !q.quarantined) return null;
  return h('div', { class: 'quarantine' }, badge('quarantined', 'bad'),
    h('span', { class: 'small quarantine-reason' }, ` ${q.reason || ''}`));
}

// Issue 6: the IPv6 tailnet address (derived from the IPv4 one; null when the server runs with
// --ipv6-prefix off), small under the IPv4 address.
function ip6Line(m) {
  return m.tailnet_ip6 ? h('div', { class: 'muted small ip6' }, h('code', { class: 'wrap' }, m.tailnet_ip6)) : null;
}

function onlineBadge(m) {
  if (m.expired) return badge('expired', 'bad');
  return m.online ? badge('online', 'ok') : badge('offline', 'muted');
}

function tagList(tags) {
  return (tags || []).length ? h('span', { class: 'tags' }, tags.map((t) => badge(t, 'tag'))) : h('span', { class: 'muted' }, '—');
}

// The admin actions, shared by the list and the detail page. after(kind, machine) re-renders.
async function rename(org, m, after) {
  const name = await promptDialog(`Rename ${m.name}`, 'New name', m.name, 'A DNS label: a-z, 0-9 and -; made unique in the org');
  if (name === null) return;
  try {
    after('upsert', await patch(`/api/orgs/${org.id}/machines/${m.id}`, { name }));
    toast(`Renamed to ${name}`);
  } catch (e) { toast(`Rename failed: ${e.message}`, 'error'); }
}

async function retag(org, m, after) {
  const text = await promptDialog(`Tags of ${m.name}`, 'Tags (comma separated)', (m.tags || []).join(', '), 'For example tag:server, tag:prod');
  if (text === null) return;
  const tags = text.split(',').map((t) => t.trim()).filter(Boolean);
  try {
    after('upsert', await patch(`/api/orgs/${org.id}/machines/${m.id}`, { tags }));
    toast('Tags saved');
  } catch (e) { toast(`Tags not saved: ${e.message}`, 'error'); }
}

async function expire(org, m, after) {
  if (!await confirmDialog(`Expire ${m.name}?`, 'Its key stops working now; the device must log in again.', 'Expire key')) return;
  try {
    after('upsert', await postEmpty(`/api/orgs/${org.id}/machines/${m.id}/expire`));
    toast(`${m.name} expired`);
  } catch (e) { toast(`Expire failed: ${e.message}`, 'error'); }
}

async function remove(org, m, after) {
  if (!await confirmDialog(`Delete ${m.name}?`, `The machine is removed and its address ${m.tailnet_ip} is freed. This cannot be undone.`, 'Delete machine')) return;
  try {
    await del(`/api/orgs/${org.id}/machines/${m.id}`);
    after('delete', m);
    toast(`${m.name} deleted`);
  } catch (e) { toast(`Delete failed: ${e.message}`, 'error'); }
}

function actions(ctx, m, after) {
  if (!ctx.isAdmin) return null;
  const b = (label, fn) => h('button', { type: 'button', class: 'small', 'aria-label': `${label} ${m.name}`, onclick: () => fn(ctx.org, m, after) }, label);
  return h('div', { class: 'row-actions' }, b('Rename', rename), b('Tags', retag), b('Expire', expire),
    h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${m.name}`, onclick: () => remove(ctx.org, m, after) }, 'Delete'));
}

export async function renderList(ctx) {
  const { main, org, live, query } = ctx;
  const state = { q: query.get('q') || '', tag: query.get('tag') || '', online: query.get('online') || '', offset: 0 };
  const machines = new Map();
  let total = 0;
  const err = errorBox();
  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const pager = h('div', { class: 'pager' });
  const liveState = h('span', { class: 'live-dot', title: 'Live updates' });

  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter machines' },
    field('Search', { type: 'search', name: 'q', value: state.q, placeholder: 'name or hostname' }),
    field('Tag', { name: 'tag', value: state.tag, placeholder: 'tag:server' }),
    field('State', { tag: 'select', name: 'online', value: state.online, options: [['', 'Any'], ['true', 'Online'], ['false', 'Offline']] }));
  let debounce = null;
  const apply = () => {
    const f = filters.elements;
    Object.assign(state, { q: f.q.value.trim(), tag: f.tag.value.trim(), online: f.online.value, offset: 0 });
    load();
  };
  filters.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(apply, 250); });
  filters.addEventListener('submit', (ev) => { ev.preventDefault(); apply(); });

  function matches(m) {
    const q = state.q.toLowerCase();
    if (q && !m.name.toLowerCase().includes(q) && !(m.hostname || '').toLowerCase().includes(q)) return false;
    if (state.tag && !(m.tags || []).includes(state.tag)) return false;
    if (state.online && String(!!m.online) !== state.online) return false;
    return true;
  }

  function row(m) {
    return h('tr', { 'data-id': m.id, 'data-online': m.online ? 'true' : 'false' },
      h('td', { 'data-label': 'Name' }, h('a', { href: `#/machines/${m.id}` }, m.name),
        h('div', { class: 'muted small' }, m.hostname)),
      h('td', { 'data-label': 'State', class: 'state' }, onlineBadge(m), quarantineBadge(m)),
      h('td', { 'data-label': 'Address' }, h('code', {}, m.tailnet_ip), ip6Line(m)),
      h('td', { 'data-label': 'MagicDNS' }, h('code', { class: 'wrap' }, m.fqdn)),
      h('td', { 'data-label': 'Tags' }, tagList(m.tags)),
      h('td', { 'data-label': 'OS' }, `${m.os || '—'} ${m.os_version || ''}`),
      h('td', { 'data-label': 'Posture' }, postureBadge(m)),
      h('td', { 'data-label': 'PQ', class: 'pq' }, pqCell(m)),
      h('td', { 'data-label': 'Last seen' }, h('time', { datetime: m.last_seen ? new Date(m.last_seen * 1000).toISOString() : null, title: fmtTime(m.last_seen) }, relTime(m.last_seen))),
      h('td', { 'data-label': 'Actions' }, actions(ctx, m, changed)));
  }

  function draw() {
    const rows = [...machines.values()].filter(matches).sort((a, b) => a.id - b.id);
    clear(tbody, rows.length ? rows.map(row) : h('tr', {}, h('td', { colspan: 10, class: 'empty' },
      state.q || state.tag || state.online ? 'No machine matches these filters.' : 'No machines yet. Create an auth key and run ztna up on a device.')));
    count.textContent = `${total} machine${total === 1 ? '' : 's'}${rows.filter((m) => m.online).length ? `, ${rows.filter((m) => m.online).length} online` : ''}`;
    clear(pager,
      state.offset > 0 && h('button', { type: 'button', onclick: () => { state.offset = Math.max(0, state.offset - PAGE); load(); } }, 'Previous'),
      state.offset + PAGE < total && h('button', { type: 'button', onclick: () => { state.offset += PAGE; load(); } }, 'Next'));
  }

  function changed(kind, m) {
    if (kind === 'delete') { if (machines.delete(m.id)) total--; }
    else if (kind === 'offline') { const old = machines.get(m.id); if (old) old.online = false; }
    else { if (!machines.has(m.id)) total++; machines.set(m.id, m); }
    draw();
  }

  async function load() {
    err.show(null);
    try {
      const d = await get(`/api/orgs/${org.id}/machines${qs({ q: state.q, tag: state.tag, online: state.online, limit: PAGE, offset: state.offset })}`);
      machines.clear();
      for (const m of d.machines) machines.set(m.id, m);
      total = d.total;
      draw();
    } catch (e) { err.show(e); }
  }

  clear(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Machines'), liveState, ctx.isAdmin && h('a', { class: 'button', href: '#/keys' }, 'Add a device')),
    filters, count, err,
    h('div', { class: 'table-wrap' }, h('table', { class: 'list machines' },
      h('caption', { class: 'sr-only' }, 'Machines of the organisation'),
      h('thead', {}, h('tr', {}, ['Name', 'State', 'Address', 'MagicDNS', 'Tags', 'OS', 'Posture', 'PQ', 'Last seen', ''].map((t) => h('th', { scope: 'col' }, t)))),
      tbody)),
    pager);
  await load();
  const offs = [
    live.on('machines', (d) => {
      if (d.event === 'upsert' && d.machine) {
        if (state.offset === 0 || machines.has(d.id)) changed('upsert', d.machine);
      } else if (d.event === 'delete') changed('delete', { id: d.id });
      else if (d.event === 'offline') changed('offline', { id: d.id });
    }),
    live.on('*', (m) => { if (m.type === 'resync' || m.type === 'subscribed') load(); }),
  ];
  const tick = setInterval(draw, 30000);
  return () => { offs.forEach((f) => f()); clearInterval(tick); };
}

export async function renderDetail(ctx) {
  const { main, org, params, live, go } = ctx;
  const id = Number(params.id);
  let m = await get(`/api/orgs/${org.id}/machines/${id}`);
  const body = h('div');
  const draw = () => {
    const p = postureOf(m);
    const checks = m.posture_checks || [];
    clear(body,
      h('div', { class: 'page-head' }, h('h1', {}, m.name), onlineBadge(m)),
      m.quarantine && m.quarantine.quarantined &&
        h('p', { class: 'card quarantine', role: 'status' }, badge('quarantined', 'bad'),
          ` ${m.quarantine.reason || ''}. It keeps its address; rules that need a posture deny it until a fresh report arrives.`),
      h('p', {}, h('a', { href: '#/machines' }, '← All machines')),
      actions(ctx, m, (kind, n) => { if (kind === 'delete') go('#/machines'); else { m = n; draw(); } }),
      h('dl', { class: 'kv card' },
        [['MagicDNS name', h('code', {}, m.fqdn)], ['Tailnet address', h('span', {}, h('code', {}, m.tailnet_ip), ip6Line(m))],
          ['Hostname', m.hostname], ['OS', `${m.os} ${m.os_version}`], ['Tags', tagList(m.tags)],
          ['Ephemeral', m.ephemeral ? 'yes' : 'no'], ['Post-quantum', pqText(m)],
          ['Last seen', `${relTime(m.last_seen)} (${fmtTime(m.last_seen)})`], ['Created', fmtTime(m.created_at)],
          ['Key expired', m.expired ? fmtTime(m.expired_at) : 'no'],
          ['Machine key', h('code', { class: 'wrap' }, m.machine_key)], ['WireGuard key', h('code', { class: 'wrap' }, m.wg_public_key)]]
          .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
      h('h2', {}, 'Posture ', p ? (p.ok ? badge('pass', 'ok') : badge('fail', 'bad')) : badge('no report', 'muted')),
      Object.keys(m.posture || {}).length
        ? h('table', { class: 'list' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Check'), h('th', { scope: 'col' }, 'Value'))),
          h('tbody', {}, Object.entries(m.posture).map(([k, v]) => h('tr', {}, h('td', {}, k),
            h('td', {}, typeof v === 'boolean' ? badge(v ? 'pass' : 'fail', v ? 'ok' : 'bad') : String(v))))))
        : h('p', { class: 'muted' }, 'This machine has not reported posture yet.'),
      h('p', { class: 'muted small' }, `Reported ${relTime(m.posture_at)}`),
      checks.length > 0 && h('h2', {}, 'Policy posture checks'),
      checks.length > 0 && h('table', { class: 'list posture-checks' },
        h('thead', {}, h('tr', {}, ['Posture', 'Result', 'Why'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, checks.map((c) => h('tr', {}, h('td', {}, c.name),
          h('td', {}, badge(c.pass ? 'pass' : 'fail', c.pass ? 'ok' : 'bad')), h('td', {}, c.failed || '—'))))));
  };
  draw();
  clear(main, body);
  return live.on('machines', (d) => {
    if (d.id !== id) return;
    if (d.event === 'delete') { toast(`${m.name} was deleted`); go('#/machines'); }
    else if (d.event === 'offline') { m.online = false; draw(); }
    else if (d.machine) { m = d.machine; draw(); }
  });
}
