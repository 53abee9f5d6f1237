// The audit log: filters, cursor paging (newest first), export as JSON lines, CEF or syslog.
import { download as fetchFile, get, qs } from '../api.js';
import { clear, download, errorBox, field, formValues, h, toast } from '../dom.js';

const PAGE = 50;
const FORMATS = { jsonl: ['jsonl', 'application/x-ndjson'], cef: ['cef', 'text/plain'], syslog: ['log', 'text/plain'] };

function toUnix(v) {
  return v ? String(Math.floor(new Date(v).getTime() / 1000)) : '';
}

export async function render({ main, org, live }) {
  const err = errorBox();
  const tbody = h('tbody');
  const pager = h('div', { class: 'pager' });
  const cursors = [null];   // cursor of each page shown so far
  let page = 0, next = null;

  const filters = h('form', { class: 'filters', 'aria-label': 'Filter the audit log' },
    field('Action', { name: 'action', placeholder: 'machine.* or auth.login.failure' }),
    field('Actor', { name: 'actor', placeholder: 'email or id' }),
    field('Actor type', { tag: 'select', name: 'actor_type', value: '', options: [['', 'Any'], ['user', 'User'], ['machine', 'Machine'], ['system', 'System'], ['anonymous', 'Anonymous']] }),
    field('Target type', { name: 'target_type', placeholder: 'machine' }),
    field('Target id', { name: 'target_id' }),
    field('Since', { type: 'datetime-local', name: 'since' }),
    field('Until', { type: 'datetime-local', name: 'until' }),
    h('button', { type: 'submit', class: 'primary' }, 'Apply'));

  const params = () => {
    const v = formValues(filters);
    return { action: v.action.trim(), actor: v.actor.trim(), actor_type: v.actor_type, target_type: v.target_type.trim(),
      target_id: v.target_id.trim(), since: toUnix(v.since), until: toUnix(v.until) };
  };

  async function load() {
    err.show(null);
    try {
      const d = await get(`/api/orgs/${org.id}/audit${qs({ ...params(), limit: PAGE, cursor: cursors[page] })}`);
      next = d.next_cursor;
      clear(tbody, d.events.length ? d.events.map((e) => h('tr', {},
        h('td', { 'data-label': 'Time' }, h('time', { datetime: e.time }, new Date(e.ts * 1000).toLocaleString())),
        h('td', { 'data-label': 'Action' }, h('code', {}, e.action)),
        h('td', { 'data-label': 'Actor' }, `${e.actor_name || e.actor_id || '—'} (${e.actor_type})`),
        h('td', { 'data-label': 'Target' }, e.target_type ? `${e.target_type} ${e.target_id || ''}` : '—'),
        h('td', { 'data-label': 'Source' }, e.source_addr || '—'),
        h('td', { 'data-label': 'Detail' }, e.detail ? h('code', { class: 'wrap small' }, JSON.stringify(e.detail)) : '—')))
        : h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No events match.')));
      clear(pager,
        h('span', { class: 'muted' }, `Page ${page + 1}`),
        page > 0 && h('button', { type: 'button', onclick: () => { page--; load(); } }, 'Newer'),
        next && h('button', { type: 'button', onclick: () => { cursors[page + 1] = next; page++; load(); } }, 'Older'));
    } catch (e) { err.show(e); }
  }
  filters.addEventListener('submit', (ev) => { ev.preventDefault(); page = 0; cursors.length = 1; load(); });

  const exportForm = h('form', { class: 'inline-form export', 'aria-label': 'Export' },
    field('Export format', { tag: 'select', name: 'format', value: 'jsonl', options: [['jsonl', 'JSON lines'], ['cef', 'CEF'], ['syslog', 'Syslog (RFC 5424)']] }),
    h('button', { type: 'submit' }, 'Export'));
  exportForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const format = formValues(exportForm).format;
    try {
      const f = await fetchFile(`/api/orgs/${org.id}/audit/export${qs({ ...params(), format })}`);
      const [ext, type] = FORMATS[format];
      download(`audit-${org.slug}-${new Date().toISOString().slice(0, 10)}.${ext}`, f.type || type, f.text);
      const n = f.headers.get('X-Audit-Count') ?? f.text.split('\n').filter(Boolean).length;
      toast(`Exported ${n} event${String(n) === '1' ? '' : 's'}`);
    } catch (e) { err.show(e); }
  });

  clear(main, h('h1', {}, 'Audit log'), filters, exportForm, err,
    h('div', { class: 'table-wrap' }, h('table', { class: 'list audit' },
      h('thead', {}, h('tr', {}, ['Time', 'Action', 'Actor', 'Target', 'Source', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))), tbody)),
    pager);
  await load();
  // every new entry of the org arrives on "audit": the first page shows it at once.
  const offs = [live.on('audit', () => { if (page === 0) load(); }),
    live.on('*', (m) => { if (m.type === 'resync' && page === 0) load(); })];
  return () => offs.forEach((off) => off());
}
