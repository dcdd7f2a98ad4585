// SPDX-License-Identifier: Apache-2.0
// The controller's page: reads /ui/events (server-sent events, through
// fetch so that it can carry the admin token) and draws each snapshot.
// It only reads; it sends nothing but the token.
'use strict';

const TOKEN_KEY = 'symdist-admin-token';
const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00',
  '#7f3c8d', '#11a579', '#3969ac', '#e73f74', '#80ba5a', '#008695', '#a5aa99', '#f97b72'];
const NONE = '#d0d7de';
const $ = (id) => document.getElementById(id);

let token = sessionStorage.getItem(TOKEN_KEY) || '';
let snap = null;
const tables = new Map(); // group -> {owners, table, moving}: "table" events
let abort = null;
let retry = 500;
const cursors = new Map(); // group -> focused bucket

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

function setConn(text, cls) {
  const c = $('conn');
  c.textContent = text;
  c.className = 'conn ' + cls;
}

function askToken(message) {
  snap = null;
  tables.clear();
  $('data').hidden = true;
  $('group-list').replaceChildren();
  for (const t of ['tm-table', 'switch-table']) $(t).tBodies[0].replaceChildren();
  $('event-list').replaceChildren();
  $('token-form').hidden = false;
  $('token-error').textContent = message;
  $('forget').hidden = true;
  setConn('needs the admin token', 'wait');
  $('token').focus();
}

async function connect() {
  if (abort) abort.abort();
  abort = new AbortController();
  const headers = { Accept: 'text/event-stream' };
  if (token) headers.Authorization = 'Bearer ' + token;
  setConn('connecting…', 'wait');
  try {
    const resp = await fetch('/ui/events', { headers, cache: 'no-store', signal: abort.signal });
    if (resp.status === 401) {
      if (token) sessionStorage.removeItem(TOKEN_KEY);
      askToken(token ? 'The controller refused that token.' : '');
      token = '';
      return;
    }
    if (!resp.ok) throw new Error('HTTP ' + resp.status);
    $('token-form').hidden = true;
    $('forget').hidden = !token;
    retry = 500;
    setConn('live', 'ok');
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        handle(buf.slice(0, i));
        buf = buf.slice(i + 2);
      }
    }
    throw new Error('the stream ended');
  } catch (err) {
    if (err.name === 'AbortError') return;
    setConn('disconnected (' + err.message + '); trying again', 'bad');
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 5000);
  }
}

// handle takes one server-sent event.
function handle(block) {
  let type = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const c = line.indexOf(':');
    const field = c < 0 ? line : line.slice(0, c);
    let v = c < 0 ? '' : line.slice(c + 1);
    if (v.startsWith(' ')) v = v.slice(1);
    if (field === 'event') type = v;
    else if (field === 'data') data.push(v);
  }
  if (!data.length) return;
  if (type === 'table') {
    const t = JSON.parse(data.join('\n'));
    tables.set(t.group, t); // drawn with the snapshot that follows
  } else if (type === 'snapshot') {
    snap = JSON.parse(data.join('\n'));
    render();
  }
}

function yesNo(b, yes = 'yes', no = 'no') {
  return el('td', { class: b ? 'yes' : 'no', text: b ? yes : no });
}

function pct(x) { return (100 * x).toFixed(1) + '%'; }

function ago(t) {
  if (!t) return '—';
  const s = Math.max(0, (Date.now() - Date.parse(t)) / 1000);
  if (s < 60) return Math.round(s) + ' s ago';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  return Math.round(s / 3600) + ' h ago';
}

function colour(i) { return i < 0 ? NONE : PALETTE[i % PALETTE.length]; }

function render() {
  $('data').hidden = false;
  renderGroups();
  renderTMs();
  renderSwitches();
  renderEvents();
}

// view is a snapshot's group with its table.
function view(sg) {
  const t = tables.get(sg.name) || { owners: sg.tms.map((tm) => tm.name), table: [], moving: [] };
  return Object.assign({}, sg, { owners: t.owners, table: t.table, moving: t.moving });
}

function renderGroups() {
  const list = $('group-list');
  const seen = new Set();
  for (const g of snap.groups.map(view)) {
    seen.add(g.name);
    let sec = list.querySelector(`section[data-group="${CSS.escape(g.name)}"]`);
    if (!sec) {
      const canvas = el('canvas', { tabIndex: 0 });
      canvas.setAttribute('role', 'img');
      sec = el('section', { class: 'group', 'data-group': g.name },
        el('h3'), canvas, el('p', { class: 'readout' }), el('ul', { class: 'legend' }));
      sec.querySelector('.readout').setAttribute('aria-live', 'polite');
      canvas.addEventListener('keydown', (e) => onKey(e, g.name));
      canvas.addEventListener('focus', () => { if (!cursors.has(g.name)) cursors.set(g.name, 0); drawGroup(g.name); });
      canvas.addEventListener('blur', () => drawGroup(g.name));
      canvas.addEventListener('mousemove', (e) => onHover(e, g.name));
      list.append(sec);
    }
    sec.dataset.moving = String(g.moving.length);
    const B = g.table.length;
    sec.querySelector('h3').textContent = `${g.name} (id ${g.id}): ${B} buckets, default TM ${g.default_tm || '—'}` +
      (g.moving.length ? `, ${g.moving.length} in a handover` : '');
    const legend = sec.querySelector('.legend');
    legend.replaceChildren(...g.tms.map((tm) => {
      const i = g.owners.indexOf(tm.name);
      const sw = el('span', { class: 'swatch' });
      sw.style.background = colour(i);
      const bar = el('span', { class: 'bar', title: `share ${pct(tm.share)}, ideal ${pct(tm.ideal)}` }, el('span'), el('i'));
      bar.firstChild.style.width = pct(Math.min(1, tm.share));
      bar.firstChild.style.background = colour(i);
      bar.lastChild.style.left = pct(Math.min(1, tm.ideal));
      return el('li', {}, sw, el('span', { text: tm.name }), bar,
        el('span', { text: `${pct(tm.share)} of ${pct(tm.ideal)}` + (tm.drained ? ' (drained)' : '') + (!tm.healthy ? ' (down)' : '') }));
    }));
    const summary = g.tms.map((tm) => `${tm.name} ${tm.buckets}`).join(', ');
    sec.querySelector('canvas').setAttribute('aria-label',
      `bucket table of ${g.name}: ${summary}; ${g.moving.length} in a handover`);
    drawGroup(g.name);
  }
  for (const sec of [...list.children]) if (!seen.has(sec.dataset.group)) sec.remove();
}

function groupOf(name) {
  const sg = snap && snap.groups.find((g) => g.name === name);
  return sg && view(sg);
}

function geometry(g, canvas) {
  const B = g.table.length;
  const width = Math.max(320, Math.min(1200, canvas.parentElement.clientWidth - 4));
  const cols = Math.max(1, Math.min(B, B > 16384 ? 256 : 128));
  const cell = Math.max(1, Math.floor(width / cols));
  return { B, cols, rows: Math.ceil(B / cols), cell };
}

function drawGroup(name) {
  const g = groupOf(name);
  if (!g) return;
  const sec = $('group-list').querySelector(`section[data-group="${CSS.escape(name)}"]`);
  const canvas = sec.querySelector('canvas');
  const { B, cols, rows, cell } = geometry(g, canvas);
  canvas.width = cols * cell;
  canvas.height = Math.max(1, rows * cell);
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  for (let b = 0; b < B; b++) {
    ctx.fillStyle = colour(g.table[b]);
    ctx.fillRect((b % cols) * cell, Math.floor(b / cols) * cell, cell, cell);
  }
  for (const b of g.moving) {
    const x = (b % cols) * cell, y = Math.floor(b / cols) * cell;
    ctx.fillStyle = '#111';
    ctx.fillRect(x, y, cell, cell);
    if (cell > 2) {
      ctx.fillStyle = '#ffd400';
      ctx.fillRect(x + 1, y + 1, cell - 2, cell - 2);
    }
  }
  const cur = cursors.get(name);
  if (cur !== undefined && cur < B && document.activeElement === canvas) {
    ctx.strokeStyle = '#0969da';
    ctx.lineWidth = 2;
    ctx.strokeRect((cur % cols) * cell - 1, Math.floor(cur / cols) * cell - 1, cell + 2, cell + 2);
  }
  readout(name);
}

function readout(name) {
  const g = groupOf(name);
  const sec = $('group-list').querySelector(`section[data-group="${CSS.escape(name)}"]`);
  const b = cursors.get(name);
  const out = sec.querySelector('.readout');
  if (b === undefined || b >= g.table.length) { out.textContent = ''; return; }
  const owner = g.table[b] < 0 ? 'no TM' : g.owners[g.table[b]];
  out.textContent = `bucket ${b}: ${owner}` + (g.moving.includes(b) ? ' (in a handover)' : '');
}

function onKey(e, name) {
  const g = groupOf(name);
  if (!g || !g.table.length) return;
  const { B, cols } = geometry(g, e.target);
  let b = cursors.get(name) || 0;
  switch (e.key) {
    case 'ArrowLeft': b -= 1; break;
    case 'ArrowRight': b += 1; break;
    case 'ArrowUp': b -= cols; break;
    case 'ArrowDown': b += cols; break;
    case 'PageUp': b -= cols * 8; break;
    case 'PageDown': b += cols * 8; break;
    case 'Home': b = 0; break;
    case 'End': b = B - 1; break;
    default: return;
  }
  e.preventDefault();
  cursors.set(name, Math.max(0, Math.min(B - 1, b)));
  drawGroup(name);
}

function onHover(e, name) {
  const g = groupOf(name);
  if (!g) return;
  const { B, cols, cell } = geometry(g, e.target);
  const r = e.target.getBoundingClientRect();
  const b = Math.floor((e.clientY - r.top) / cell) * cols + Math.floor((e.clientX - r.left) / cell);
  if (b >= 0 && b < B) { cursors.set(name, b); readout(name); }
}

function renderTMs() {
  const rows = [];
  for (const g of snap.groups.map(view)) {
    for (const tm of g.tms) {
      const i = g.owners.indexOf(tm.name);
      const sw = el('span', { class: 'swatch' });
      sw.style.background = colour(i);
      const conns = tm.connections === undefined ? '—' : String(tm.connections);
      rows.push(el('tr', { 'data-tm': tm.name, 'data-healthy': String(tm.healthy), 'data-drained': String(tm.drained), 'data-buckets': String(tm.buckets), 'data-chained': String(tm.chained), 'data-timeouts': String(tm.handover_timeouts) },
        el('th', { scope: 'row' }, sw, ' ' + tm.name),
        el('td', { text: g.name }),
        yesNo(tm.healthy),
        el('td', { class: tm.drained ? 'drained' : '', text: tm.drained ? 'DRAINED' : 'no' }),
        el('td', { class: 'num', text: String(tm.weight) }),
        el('td', { class: 'num', text: String(tm.buckets) }),
        el('td', { class: 'num', text: `${pct(tm.share)} / ${pct(tm.ideal)}` }),
        el('td', { class: 'num', text: conns, title: tm.connections === undefined ? 'no report from the TM in the last 6 s' : '' }),
        el('td', { class: 'num', text: String(tm.chained) }),
        el('td', { class: 'num', text: String(tm.waiting) }),
        el('td', { class: 'num', text: String(tm.handover_timeouts) })));
    }
  }
  $('tm-table').tBodies[0].replaceChildren(...rows);
}

function renderSwitches() {
  $('switch-table').tBodies[0].replaceChildren(...snap.switches.map((s) => el('tr', { 'data-switch': s.name },
    el('th', { scope: 'row', text: s.name }),
    el('td', { text: s.address }),
    yesNo(s.connected),
    yesNo(s.primary, 'yes', 'no (backup)'),
    yesNo(s.in_sync),
    el('td', { class: 'ago', 'data-time': s.last_sync || '', text: ago(s.last_sync), title: s.last_sync || '' }),
    el('td', { class: 'num', text: s.sync_took_ms ? s.sync_took_ms.toFixed(1) + ' ms' : '—' }),
    el('td', { class: 'num', text: String(s.last_written) }),
    el('td', { class: 'num', text: String(s.entries) }),
    el('td', { text: s.target || '—' }),
    el('td', { text: s.cookie }),
    el('td', { class: s.last_error ? 'no' : '', text: s.last_error || '' }))));
}

function renderEvents() {
  $('event-list').replaceChildren(...snap.events.map((ev) => {
    const d = new Date(ev.time);
    return el('li', { 'data-kind': ev.kind },
      el('time', { dateTime: ev.time, text: d.toLocaleTimeString([], { hour12: false }), title: d.toString() }),
      el('span', { class: 'kind kind-' + ev.kind, text: ev.kind }),
      el('span', { text: ev.text }));
  }));
}

function tick() {
  for (const td of document.querySelectorAll('td.ago')) td.textContent = ago(td.dataset.time);
}

document.addEventListener('DOMContentLoaded', () => {
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    token = $('token').value.trim();
    $('token').value = '';
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    connect();
  });
  $('forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    token = '';
    if (abort) abort.abort();
    askToken('');
  });
  window.addEventListener('resize', () => { if (snap) for (const g of snap.groups) drawGroup(g.name); });
  setInterval(tick, 1000);
  connect();
});
