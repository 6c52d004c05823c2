// The browser demo: one user, one device, the SDK from /sdk/ (client/dist, built by
// `npm run build:client`). Plain ES modules, no framework, nothing loaded from the internet.
import { TidingsClient, LocalStorageStore, conversationFor, newClientMsgId } from '/sdk/index.js';

const $ = (id) => document.getElementById(id);
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;

/** @type {TidingsClient | undefined} */
let client;
let me = '';
let selected = ''; // conversation id
let pushToken = '';
/** conversation id → { title, to, messages: Map<key, view>, unread } */
const conversations = new Map();
/** clientMsgId → delivery state of my own messages */
const delivery = new Map();
/** conversation id → newest eventId the peer has read */
const readUpTo = new Map();

async function admin(path, init = {}) {
  const response = await fetch(path, {
    ...init, headers: { authorization: `Bearer ${sessionStorage.getItem('demo:admin') ?? ''}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ?? `${path}: HTTP ${response.status}`);
  return body;
}

function deviceIdFor(user) {
  const key = `demo:device:${user}`;
  let id = localStorage.getItem(key);
  if (!id) localStorage.setItem(key, (id = `web-${crypto.randomUUID().slice(0, 8)}`));
  return id;
}

function conversation(id, to) {
  let c = conversations.get(id);
  if (!c) {
    const title = to ? ('group' in to ? `# ${to.group}` : to.user) : id;
    conversations.set(id, (c = { title, to, messages: new Map(), unread: 0 }));
  }
  if (to && !c.to) c.to = to;
  return c;
}

function recipientOf(event) {
  if (event.conversation.startsWith('g:')) return { group: event.conversation.slice(2) };
  const [, a, b] = event.conversation.split(':');
  return { user: a === me ? b : a };
}

function addMessage(event) {
  const c = conversation(event.conversation, recipientOf(event));
  const key = event.from === me ? event.clientMsgId : event.messageId;
  const text = event.content.type === 'text' ? event.content.text : event.content.description ?? '(custom)';
  c.messages.set(key, { key, from: event.from, text, at: event.at, eventId: event.eventId, mine: event.from === me });
  if (event.from !== me && event.conversation !== selected) c.unread += 1;
  if (event.from !== me && event.conversation === selected) markSelectedRead();
  render();
}

let readTimer;
function markSelectedRead() {
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    const c = conversations.get(selected);
    if (!c || !client || client.state !== 'live' || document.visibilityState === 'hidden') return;
    const newest = Math.max(0, ...[...c.messages.values()].filter((m) => !m.mine && m.eventId).map((m) => m.eventId));
    if (newest > 0) client.markRead(selected, newest).catch(() => undefined);
  }, 150);
}

function render() {
  const list = $('conversations');
  list.replaceChildren(...[...conversations].map(([id, c]) => {
    const li = document.createElement('li');
    li.dataset.conversation = id;
    li.textContent = c.title;
    if (id === selected) li.className = 'selected';
    if (c.unread > 0) li.insertAdjacentHTML('beforeend', `<span class="pill unread">${c.unread}</span>`);
    li.onclick = () => select(id);
    return li;
  }));
  const c = conversations.get(selected);
  $('chat-title').textContent = c ? c.title : 'No conversation';
  $('message-text').disabled = $('send').disabled = !c;
  const items = c ? [...c.messages.values()] : [];
  $('messages').replaceChildren(...items.map((m) => {
    const li = document.createElement('li');
    li.className = m.mine ? 'mine' : 'theirs';
    li.dataset.key = m.key;
    const who = document.createElement('b');
    who.textContent = m.mine ? 'me' : m.from;
    const body = document.createElement('span');
    body.className = 'text';
    body.textContent = ` ${m.text}`;
    li.append(who, body);
    if (m.mine) {
      let state = delivery.get(m.key) ?? 'acked';
      if (state === 'acked' && m.eventId && (readUpTo.get(selected) ?? 0) >= m.eventId) state = 'read';
      li.dataset.state = state;
      li.insertAdjacentHTML('beforeend', `<span class="state ${state}">${state}</span>`);
    }
    return li;
  }));
  $('messages').scrollTop = $('messages').scrollHeight;
}

function select(id) {
  selected = id;
  const c = conversations.get(id);
  if (c) c.unread = 0;
  render();
  markSelectedRead();
}

function showState(change) {
  $('state').textContent = change.state;
  $('state').className = `pill ${change.state}`;
  const detail = change.state === 'backoff' ? `${change.reason}, retry in ${change.retryInMs} ms` : change.reason;
  $('state-reason').textContent = detail ?? '';
  $('online').checked = change.state !== 'idle' && change.state !== 'closed';
  $('online').disabled = change.state === 'closed';
}

async function refreshPushes() {
  if (!me) return;
  const { sandboxPushes } = await admin(`/admin/devices?user=${encodeURIComponent(me)}`);
  $('pushes').replaceChildren(...sandboxPushes.slice().reverse().map((p) => {
    const li = document.createElement('li');
    const payload = p.payload.vendor === 'fcm' ? p.payload.message : p.payload.payload;
    const note = p.payload.vendor === 'fcm' ? payload.notification : payload.aps?.alert;
    li.dataset.messageId = (p.payload.vendor === 'fcm' ? payload.data?.messageId : payload.messageId) ?? '';
    li.textContent = `${new Date(p.at).toLocaleTimeString()} ${p.deviceId ?? ''} [${p.kind}] ${note?.title ?? ''}: ${note?.body ?? ''}`;
    return li;
  }));
}

async function login(event) {
  event.preventDefault();
  $('login-error').textContent = '';
  sessionStorage.setItem('demo:admin', $('admin-secret').value);
  me = $('user-id').value.trim();
  const deviceId = deviceIdFor(me);
  client = new TidingsClient({
    url: wsUrl, deviceId, platform: 'web',
    // Asked on every (re)connect: each login gets a fresh short-lived token.
    token: async () => (await admin('/admin/token', { method: 'POST', body: JSON.stringify({ userId: me }) })).token,
    store: new LocalStorageStore({ prefix: `tidings:${me}:${deviceId}:` }),
  });
  window.tidings = client; // for poking around in the console (and the browser tests)
  client.on('state', showState);
  client.on('message', addMessage);
  client.on('read', (e) => {
    if (e.from === me) return;
    readUpTo.set(e.conversation, Math.max(readUpTo.get(e.conversation) ?? 0, e.upTo));
    render();
  });
  client.on('group', (e) => {
    if (e.kind === 'group_created' || (e.kind === 'member_joined' && e.user === me)) conversation(e.conversation, { group: e.groupId });
    render();
  });
  client.on('outbox', (s) => {
    if (s.status === 'queued') delivery.set(s.clientMsgId, 'queued');
    else if (s.status === 'sent') delivery.set(s.clientMsgId, 'sent');
    else if (s.status === 'acked') delivery.set(s.clientMsgId, 'acked');
    else delivery.set(s.clientMsgId, 'failed');
    render();
  });
  client.on('error', (e) => console.warn('tidings:', e.code, e.message));
  try {
    await client.connect();
  } catch (error) {
    $('login-error').textContent = `${error.code ?? ''} ${error.message}`;
    return;
  }
  document.body.classList.add('logged-in');
  $('whoami').textContent = `${me} on ${deviceId}`;
  if ($('register-push').checked) {
    // Dev mode: a made-up FCM token; the server's push sandbox records what it would have sent.
    pushToken = `demo-web-${deviceId}`;
    await client.registerPush({ provider: 'fcm', credential: 'web-demo', token: pushToken });
    $('push-token').textContent = `push token ${pushToken}`;
  }
  setInterval(() => void refreshPushes().catch(() => undefined), 2000);
}

$('login-form').addEventListener('submit', (e) => void login(e));
$('online').addEventListener('change', () => {
  if (!client) return;
  // Offline = the socket closes without a logout: the server sees the device go offline and pushes.
  if ($('online').checked) client.connect().catch(() => undefined);
  else client.disconnect();
});
$('open-peer').addEventListener('submit', (e) => {
  e.preventDefault();
  const to = { user: $('peer').value.trim() };
  conversation(conversationFor(me, to), to);
  select(conversationFor(me, to));
});
$('create-group').addEventListener('submit', async (e) => {
  e.preventDefault();
  const members = $('group-members').value.split(',').map((m) => m.trim()).filter(Boolean);
  const { groupId } = await client.createGroup({ name: $('group-name').value, members });
  conversation(`g:${groupId}`, { group: groupId });
  select(`g:${groupId}`);
});
$('join-group').addEventListener('submit', async (e) => {
  e.preventDefault();
  const groupId = $('group-id').value.trim();
  await client.joinGroup(groupId);
  conversation(`g:${groupId}`, { group: groupId });
  select(`g:${groupId}`);
});
$('compose').addEventListener('submit', (e) => {
  e.preventDefault();
  const c = conversations.get(selected);
  const text = $('message-text').value;
  if (!c?.to || !text) return;
  $('message-text').value = '';
  // Shown at once under its clientMsgId; the echo from the server replaces it (same key).
  const clientMsgId = newClientMsgId();
  c.messages.set(clientMsgId, { key: clientMsgId, from: me, text, at: Date.now(), mine: true });
  client.sendText(c.to, text, { clientMsgId }).catch((error) => console.warn('send failed', error.code));
  render();
});
$('refresh-pushes').addEventListener('click', () => void refreshPushes());
document.addEventListener('visibilitychange', markSelectedRead);
