// The realtime socket (see server/realtime.h): one per tab, authenticated by the first frame,
// subscribed to the selected org; reconnects with backoff; asks for a token refresh on "reauth".
import { getToken, refresh } from './api.js';

const CHANNELS = ['machines', 'jit', 'policy', 'members', 'keys', 'audit'];
const PING_MS = 20000;

export class Live {
  constructor() {
    this.ws = null;
    this.org = null;
    this.handlers = new Map();   // channel -> Set(fn)
    this.state = 'closed';       // closed | connecting | open
    this.backoff = 500;
    this.timer = null;
    this.pinger = null;
    this.stopped = true;
    this.onstate = null;
  }

  on(channel, fn) {
    if (!this.handlers.has(channel)) this.handlers.set(channel, new Set());
    this.handlers.get(channel).add(fn);
    return () => this.handlers.get(channel).delete(fn);
  }

  setState(s) {
    this.state = s;
    document.documentElement.dataset.live = s;
    if (this.onstate) this.onstate(s);
  }

  start(org) {
    this.org = org;
    this.stopped = false;
    if (this.ws && this.state === 'open') this.subscribe();
    else if (!this.ws) this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.setState('closed');
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  subscribe() {
    if (this.org) this.send({ type: 'subscribe', org: Number(this.org), channels: CHANNELS });
  }

  connect() {
    if (this.stopped || !getToken()) return;
    const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/api/ws`;
    const ws = new WebSocket(url);
    this.ws = ws;
    this.setState('connecting');
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: getToken() }));
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = () => {
      clearInterval(this.pinger);
      if (this.ws !== ws) return;
      this.ws = null;
      this.setState('closed');
      if (!this.stopped) {
        this.timer = setTimeout(() => this.connect(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 15000);
      }
    };
  }

  async receive(text) {
    let m;
    try { m = JSON.parse(text); } catch { return; }
    switch (m.type) {
      case 'ready':
        this.backoff = 500;
        clearInterval(this.pinger);
        this.pinger = setInterval(() => this.send({ type: 'ping' }), PING_MS);
        this.subscribe();
        break;
      case 'subscribed': // also sent by the server when this user's role changed
        this.setState('open');
        this.emit('*', { type: 'subscribed', org: m.org, role: m.role });
        break;
      case 'reauth':
        if (await refresh()) this.send({ type: 'auth', token: getToken() });
        break;
      case 'resync':
        this.emit('*', { type: 'resync' });
        break;
      case 'event':
        if (String(m.org) === String(this.org)) this.emit(m.channel, m.data);
        break;
      case 'error':
        if (m.code === 'UNAUTHORIZED' && await refresh() && this.ws)
          this.send({ type: 'auth', token: getToken() });
        else if (m.code === 'NOT_FOUND') this.emit('*', { type: 'gone', org: this.org }); // removed from the org
        break;
      default:
        break;
    }
  }

  emit(channel, data) {
    for (const fn of this.handlers.get(channel) || []) fn(data);
    if (channel !== '*') for (const fn of this.handlers.get('any') || []) fn(channel, data);
  }
}
