// The policy editor: the HuJSON document, validation errors at line and column (click to jump),
// the policy's own tests run by /policy/validate before a save is offered, version history with
// a line diff, and the explain form ("may A reach B on port P now?").
import { ApiError, get, post, put } from '../api.js';
import { badge, clear, errorBox, field, fmtTime, formValues, h, toast } from '../dom.js';

const POS_RE = /line (\d+),? col(?:umn)? (\d+)[:,]?\s*(.*)/i;

function docText(d) {
  if (typeof d === 'string') return d;
  if (!d) return '';
  for (const k of ['text', 'policy', 'document', 'source']) if (typeof d[k] === 'string') return d[k];
  return JSON.stringify(d.policy ?? d, null, 2);
}

// Errors from a validate/save reply or an ApiError: [{line, col, message}].
export function policyErrors(x) {
  const list = [];
  const push = (e) => {
    if (typeof e === 'string') {
      const m = POS_RE.exec(e);
      list.push(m ? { line: +m[1], col: +m[2], message: m[3] || e } : { line: 0, col: 0, message: e });
    } else if (e && typeof e === 'object') {
      const line = e.line ?? 0, col = e.col ?? e.column ?? 0;
      const m = !line && POS_RE.exec(e.message || '');
      list.push(m ? { line: +m[1], col: +m[2], message: m[3] } : { line, col, message: e.message || e.error || JSON.stringify(e) });
    }
  };
  if (x instanceof Error) push(x.message);
  else if (x) {
    for (const k of ['errors', 'test_failures', 'failures']) if (Array.isArray(x[k])) x[k].forEach(push);
    if (Array.isArray(x.tests)) x.tests.filter((t) => t && (t.pass === false || t.ok === false)).forEach(push);
  }
  return list;
}

// Offset in text of 1-based (line, col).
function offsetOf(text, line, col) {
  let off = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', off);
    if (nl < 0) return text.length;
    off = nl + 1;
  }
  return Math.min(text.length, off + Math.max(0, col - 1));
}

// Line diff by longest common subsequence (policies are small; capped to stay quick).
export function lineDiff(a, b) {
  const x = a.split('\n'), y = b.split('\n');
  if (x.length * y.length > 4e6) return [{ op: '!', text: 'Too large to diff here.' }];
  const n = x.length, m = y.length;
  const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) { out.push({ op: ' ', text: x[i] }); i++; j++; }
    else if (i < n && (j === m || L[i + 1][j] >= L[i][j + 1])) { out.push({ op: '-', text: x[i] }); i++; }
    else { out.push({ op: '+', text: y[j] }); j++; }
  }
  return out;
}

export async function render({ main, org, isAdmin, live }) {
  const base = `/api/orgs/${org.id}/policy`;
  const loadErr = errorBox();
  let current = null, saved = '';
  try { current = await get(base); saved = docText(current); } catch (e) { loadErr.show(e); }

  const versionLine = h('p', { class: 'muted', id: 'policy-version' }, current ? (current.version
    ? `Current version ${current.version}, saved ${fmtTime(current.created_at)}${current.author_email ? ` by ${current.author_email}` : ''}`
    : 'No policy saved yet: every machine may reach every other (allow all).') : '');
  const editor = h('textarea', {
    id: 'policy-text', class: 'code', spellcheck: 'false', rows: 24, readonly: !isAdmin,
    'aria-describedby': 'policy-pos policy-errors', autocapitalize: 'off', autocomplete: 'off',
  });
  editor.value = saved;
  const pos = h('span', { id: 'policy-pos', class: 'muted small', 'aria-live': 'off' });
  const updatePos = () => {
    const before = editor.value.slice(0, editor.selectionStart).split('\n');
    pos.textContent = `Line ${before.length}, column ${before[before.length - 1].length + 1}`;
  };
  ['keyup', 'click', 'input', 'focus'].forEach((e) => editor.addEventListener(e, updatePos));
  const errors = h('div', { id: 'policy-errors', 'aria-live': 'polite' });
  const status = h('p', { class: 'muted', role: 'status' });
  const saveBtn = h('button', { type: 'button', class: 'primary', disabled: true }, 'Save new version');
  const validateBtn = h('button', { type: 'button' }, 'Validate and run tests');
  let validatedText = null;

  function showErrors(list, title) {
    if (!list.length) { clear(errors); return; }
    clear(errors, h('div', { class: 'errors card', role: 'alert' }, h('h2', {}, title),
      h('ul', {}, list.map((e) => h('li', {}, e.line
        ? h('button', {
          type: 'button', class: 'link',
          onclick: () => {
            const o = offsetOf(editor.value, e.line, e.col);
            editor.focus();
            editor.setSelectionRange(o, Math.min(editor.value.length, o + 1));
            updatePos();
          },
        }, `Line ${e.line}, column ${e.col}: `) : null, e.message)))));
  }

  async function validate() {
    const text = editor.value;
    status.textContent = 'Validating…';
    saveBtn.disabled = true;
    try {
      const d = await post(`${base}/validate`, { policy: text });
      const list = policyErrors(d);
      const ok = d && d.valid !== false && d.ok !== false && !list.length;
      showErrors(list, 'The policy has problems');
      if (ok) {
        const n = Array.isArray(d.tests) ? d.tests.length : d.tests;
        status.textContent = `Valid: ${d.rules ?? '?'} rule${d.rules === 1 ? '' : 's'}${typeof n === 'number' ? `, ${n} test${n === 1 ? '' : 's'} passed` : ''}.`;
        validatedText = text;
        saveBtn.disabled = !isAdmin || text === saved;
      } else status.textContent = 'Not valid: fix the errors below.';
      return ok;
    } catch (e) {
      status.textContent = 'Not valid.';
      const list = policyErrors(e);
      showErrors(list.length ? list : [{ line: 0, col: 0, message: e.message }], e.status === 400 ? 'The policy has problems' : 'Validation failed');
      return false;
    }
  }

  async function save() {
    if (editor.value !== validatedText && !await validate()) return;
    try {
      const d = await put(base, { policy: editor.value }, { 'If-Match': `"${current ? current.version || 0 : 0}"` });
      current = d;
      saved = editor.value;
      versionLine.textContent = `Current version ${d.version}, saved ${fmtTime(d.created_at)}`;
      saveBtn.disabled = true;
      status.textContent = `Saved as version ${d && d.version !== undefined ? d.version : 'new'}.`;
      toast('Policy saved');
      loadHistory();
    } catch (e) {
      showErrors(policyErrors(e), 'Not saved');
      status.textContent = 'Not saved.';
    }
  }
  editor.addEventListener('input', () => { saveBtn.disabled = true; validatedText = null; });
  validateBtn.addEventListener('click', validate);
  saveBtn.addEventListener('click', save);

  // History and diff.
  const history = h('div');
  const diffBox = h('div', { class: 'diff-box' });
  async function loadHistory() {
    try {
      const d = await get(`${base}/history`);
      const versions = Array.isArray(d) ? d : d.versions || [];
      clear(history, versions.length ? h('table', { class: 'list' },
        h('thead', {}, h('tr', {}, ['Version', 'Saved', 'By', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, versions.map((v) => h('tr', {},
          h('td', {}, String(v.version ?? v.id)), h('td', {}, fmtTime(v.created_at)),
          h('td', {}, v.author_email || '—'),
          h('td', {}, h('button', { type: 'button', class: 'small', onclick: () => showDiff(v) }, 'Diff with editor'))))))
        : h('p', { class: 'muted' }, 'No saved versions yet.'));
    } catch (e) { clear(history, h('p', { class: 'form-error' }, e.message)); }
  }
  async function showDiff(v) {
    let text = docText(v);
    if (!text || text === JSON.stringify(v, null, 2)) {
      try { text = docText(await get(`${base}/history/${v.version ?? v.id}`)); } catch { text = ''; }
    }
    clear(diffBox, h('h3', {}, `Version ${v.version ?? v.id} → editor`),
      h('pre', { class: 'diff', tabindex: 0, 'aria-label': 'Line diff' }, lineDiff(text, editor.value).map((l) =>
        h('span', { class: l.op === '+' ? 'add' : l.op === '-' ? 'del' : '' }, `${l.op} ${l.text}\n`))));
  }

  // Explain.
  const explainOut = h('div', { 'aria-live': 'polite' });
  const explain = h('form', { class: 'card inline-form', 'aria-labelledby': 'explain-h' },
    h('h2', { id: 'explain-h' }, 'Explain: may A reach B?'),
    field('Source (machine, user or address)', { name: 'src', required: true, placeholder: 'laptop or alice@example.com or 100.64.0.2' }),
    field('Destination machine', { name: 'dst', required: true, placeholder: 'db-1' }),
    field('Port', { type: 'number', name: 'port', min: 0, max: 65535, required: true, value: '22' }),
    field('Protocol', { tag: 'select', name: 'proto', value: 'tcp', options: [['tcp', 'TCP'], ['udp', 'UDP'], ['icmp', 'ICMP']] }),
    h('button', { type: 'submit' }, 'Explain'));
  explain.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = formValues(explain);
    try {
      const d = await post(`${base}/explain`, { src: v.src, dst: v.dst, port: Number(v.port), proto: v.proto });
      const allowed = d.accepted ?? d.allowed ?? false;
      clear(explainOut, h('div', { class: 'card', id: 'explain-result' },
        h('p', {}, badge(allowed ? 'allowed' : 'denied', allowed ? 'ok' : 'bad'), ' ', d.reason || ''),
        h('p', { class: 'muted small' }, [d.failed && `failed: ${d.failed}`, d.line && `line ${d.line}`,
          d.version !== undefined && `policy version ${d.version}`].filter(Boolean).join(' · '))));
    } catch (e) { clear(explainOut, h('p', { class: 'form-error', role: 'alert' }, `${e.message} (${e.code})`)); }
  });

  clear(main, h('h1', {}, 'Policy'), loadErr,
    versionLine,
    h('label', { for: 'policy-text' }, 'Policy document (JSON with comments)'),
    editor, pos, errors, status,
    h('div', { class: 'actions' }, validateBtn, isAdmin ? saveBtn : h('span', { class: 'muted' }, 'Only admins can change the policy.')),
    h('section', { 'aria-labelledby': 'hist-h' }, h('h2', { id: 'hist-h' }, 'History'), history, diffBox),
    explain, explainOut);
  loadHistory();
  return live.on('policy', () => { loadHistory(); if (editor.value === saved) get(base).then((d) => { saved = docText(d); editor.value = saved; }).catch(() => {}); });
}

export { ApiError };
