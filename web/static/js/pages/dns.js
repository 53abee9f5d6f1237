// MagicDNS names: every machine's <name>.<org>.<base domain> and its tailnet address.
import { get } from '../api.js';
import { clear, field, h } from '../dom.js';

export async function render({ main, org, live }) {
  const tbody = h('tbody');
  const domain = h('code');
  const search = field('Filter names', { type: 'search', name: 'q' });
  let all = [];
  const draw = () => {
    const q = search.querySelector('input').value.trim().toLowerCase();
    // One row per record: A for the IPv4 address, AAAA for the IPv6 one (absent with IPv6 off).
    const records = all.flatMap((m) => [['A', m.tailnet_ip], ['AAAA', m.tailnet_ip6]]
      .filter(([, ip]) => ip).map(([type, ip]) => ({ m, type, ip })));
    const rows = records.filter((r) => !q || r.m.fqdn.includes(q) || r.ip.includes(q));
    clear(tbody, rows.length ? rows.map(({ m, type, ip }) => h('tr', { 'data-type': type },
      h('td', { 'data-label': 'Name' }, h('code', { class: 'wrap' }, m.fqdn)),
      h('td', { 'data-label': 'Type' }, type),
      h('td', { 'data-label': 'Address' }, h('code', { class: 'wrap' }, ip)),
      h('td', { 'data-label': 'Machine' }, h('a', { href: `#/machines/${m.id}` }, m.name))))
      : h('tr', {}, h('td', { colspan: 4, class: 'empty' }, 'No names.')));
  };
  async function load() {
    const d = await get(`/api/orgs/${org.id}/machines?limit=1000`);
    all = d.machines;
    const sample = all[0];
    domain.textContent = sample ? sample.fqdn.slice(sample.name.length + 1) : `${org.slug}.<base domain>`;
    draw();
  }
  search.addEventListener('input', draw);
  clear(main, h('h1', {}, 'DNS'),
    h('p', {}, 'MagicDNS answers these names for every device of the organisation under ', domain,
      '. Devices resolve them through the ztna DNS stub at ', h('code', {}, '100.100.100.100'), '; they never leak to public resolvers.'),
    search,
    h('div', { class: 'table-wrap' }, h('table', { class: 'list' },
      h('thead', {}, h('tr', {}, ['Name', 'Type', 'Address', 'Machine'].map((t) => h('th', { scope: 'col' }, t)))), tbody)));
  await load();
  return live.on('machines', (d) => { if (d.event !== 'offline') load(); });
}
