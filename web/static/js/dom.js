// DOM helpers. The dashboard never assigns HTML strings (the CSP enforces Trusted Types with no
// policy, so innerHTML and friends throw): every node is built here.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'for') el.htmlFor = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let fieldSeq = 0;
// A labelled form field: field('Email', {type: 'email', name: 'email', required: true}).
export function field(label, attrs = {}, hint) {
  const id = attrs.id || `f${++fieldSeq}`;
  const hintId = hint ? `${id}-hint` : null;
  const input = attrs.tag === 'select'
    ? h('select', { ...attrs, tag: null, id, 'aria-describedby': hintId }, attrs.options.map(
      ([v, t]) => h('option', { value: v, selected: String(attrs.value) === String(v) }, t)))
    : attrs.tag === 'textarea'
      ? h('textarea', { ...attrs, tag: null, id, 'aria-describedby': hintId })
      : h('input', { ...attrs, id, 'aria-describedby': hintId });
  if (attrs.tag === 'select') input.removeAttribute('options');
  if (attrs.type === 'checkbox')
    return h('div', { class: 'field check' }, input, h('label', { for: id }, label),
      hint && h('small', { id: hintId }, hint));
  return h('div', { class: 'field' }, h('label', { for: id }, label), input,
    hint && h('small', { id: hintId }, hint));
}

export function formValues(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    out[el.name] = el.type === 'checkbox' ? el.checked : el.value;
  }
  return out;
}

export function toast(text, kind = 'info') {
  const box = document.getElementById('toasts');
  const t = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : null }, text);
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

// An inline error area for forms: shows the API's code and message.
export function errorBox() {
  const el = h('p', { class: 'form-error', role: 'alert', hidden: true });
  el.show = (e) => {
    el.textContent = e ? (e.code ? `${e.message} (${e.code})` : String(e.message || e)) : '';
    el.hidden = !e;
  };
  return el;
}

// A confirmation dialog; resolves true only on an explicit confirm.
export function confirmDialog(title, text, okLabel = 'Confirm') {
  const dlg = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  const ok = document.getElementById('confirm-ok');
  const cancel = document.getElementById('confirm-cancel');
  ok.textContent = okLabel;
  return new Promise((resolve) => {
    const done = (v) => {
      ok.removeEventListener('click', onOk);
      cancel.removeEventListener('click', onCancel);
      dlg.removeEventListener('cancel', onCancel);
      if (dlg.open) dlg.close();
      resolve(v);
    };
    const onOk = () => done(true);
    const onCancel = () => done(false);
    ok.addEventListener('click', onOk);
    cancel.addEventListener('click', onCancel);
    dlg.addEventListener('cancel', onCancel);
    dlg.showModal();
    cancel.focus();
  });
}

export function fmtTime(unix) {
  if (!unix) return '—';
  const d = new Date(unix * 1000);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function relTime(unix, now = Date.now() / 1000) {
  if (!unix) return 'never';
  const s = Math.round(now - unix);
  if (Math.abs(s) < 45) return s >= 0 ? 'just now' : 'in a moment';
  const units = [[86400, 'day'], [3600, 'hour'], [60, 'minute']];
  for (const [n, name] of units) {
    if (Math.abs(s) >= n) {
      const v = Math.round(Math.abs(s) / n);
      return s >= 0 ? `${v} ${name}${v > 1 ? 's' : ''} ago` : `in ${v} ${name}${v > 1 ? 's' : ''}`;
    }
  }
  return `${s} s`;
}

export function duration(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(seconds / 3600), mm = Math.floor((seconds % 3600) / 60), ss = seconds % 60;
  return `${hh ? `${hh}:` : ''}${String(mm).padStart(hh ? 2 : 1, '0')}:${String(ss).padStart(2, '0')}`;
}

export function badge(text, kind) {
  return h('span', { class: `badge ${kind || ''}` }, text);
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// A one-field form in a modal dialog; resolves the entered text, or null when cancelled.
export function promptDialog(title, label, value = '', hint) {
  const input = field(label, { name: 'value', value, required: true }, hint);
  const ok = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const form = h('form', {}, h('h2', {}, title), input, h('div', { class: 'actions' }, cancel, ok));
  const dlg = h('dialog', { class: 'prompt', 'aria-label': title }, form);
  document.body.append(dlg);
  return new Promise((resolve) => {
    const done = (v) => { dlg.close(); dlg.remove(); resolve(v); };
    form.addEventListener('submit', (ev) => { ev.preventDefault(); done(form.elements.value.value); });
    cancel.addEventListener('click', () => done(null));
    dlg.addEventListener('cancel', (ev) => { ev.preventDefault(); done(null); });
    dlg.showModal();
    form.elements.value.focus();
    form.elements.value.select();
  });
}
