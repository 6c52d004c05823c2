/**
 * A lean XMPP client for the ejabberd peer bench (tools/bench/peer-ejabberd.ts): plain TCP on
 * loopback, no XMPP library. It speaks just what the bench needs: stream open, SASL PLAIN,
 * resource bind, session (only if the server says it is required), XEP-0198 stream management
 * (answers the server's `<r/>`, reports its `<a h/>`), initial presence, then raw stanzas.
 *
 * The XML side is a small incremental parser: stanzas arrive split across TCP chunks (and
 * several in one chunk), so it buffers until a tag is complete and hands over each top-level
 * element (a direct child of `<stream:stream>`) as a tiny tree. XMPP forbids comments, PIs
 * (except the XML declaration), DTDs and custom entities (RFC 6120 §11.1), so those are either
 * skipped or rejected; CDATA sections are accepted.
 */
import { connect, type Socket } from 'node:net';

export interface XmlEl {
  name: string;
  attrs: Record<string, string>;
  children: XmlEl[];
  text: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function unescapeXml(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);/g, (_, e: string) =>
    e[0] === '#' ? String.fromCodePoint(e[1] === 'x' ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1))) : ENTITIES[e]!);
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&${({ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' } as Record<string, string>)[c]};`);
}

export function child(el: XmlEl, name: string, xmlns?: string): XmlEl | undefined {
  return el.children.find((c) => c.name === name && (xmlns === undefined || c.attrs.xmlns === xmlns));
}

/** Index of the `>` closing a tag that starts before `from`, skipping quoted attribute values. */
function tagEnd(buf: string, from: number): number {
  let quote = '';
  for (let i = from; i < buf.length; i++) {
    const c = buf[i];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '>') return i;
  }
  return -1;
}

const ATTR = /([^\s=/]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

/** Incremental parser of one XMPP stream (and of its restarts after SASL). */
export class XmlStreamParser {
  #buf = '';
  #stack: XmlEl[] = [];
  constructor(private readonly on: { open(attrs: Record<string, string>): void; element(el: XmlEl): void; close(): void }) {}

  push(chunk: string): void {
    let buf = this.#buf + chunk;
    let pos = 0;
    for (;;) {
      const lt = buf.indexOf('<', pos);
      if (lt < 0) break; // text without its next tag yet: keep it whole (entities may be split)
      const top = this.#stack[this.#stack.length - 1];
      if (lt > pos && top) top.text += unescapeXml(buf.slice(pos, lt));
      pos = lt;
      if (buf.startsWith('<?', lt)) { // the XML declaration of each (re)started stream
        const end = buf.indexOf('?>', lt);
        if (end < 0) break;
        pos = end + 2;
        continue;
      }
      if (buf.startsWith('<!', lt)) {
        if (buf.length - lt < 9 && '<![CDATA['.startsWith(buf.slice(lt))) break;
        if (!buf.startsWith('<![CDATA[', lt)) throw new Error('XML comments and DTDs are not allowed in XMPP');
        const end = buf.indexOf(']]>', lt);
        if (end < 0) break;
        if (top) top.text += buf.slice(lt + 9, end);
        pos = end + 3;
        continue;
      }
      const end = tagEnd(buf, lt + 1);
      if (end < 0) break;
      pos = end + 1;
      this.#tag(buf.slice(lt + 1, end));
    }
    this.#buf = buf.slice(pos);
  }

  #tag(body: string): void {
    if (body[0] === '/') {
      const el = this.#stack.pop();
      if (!el) this.on.close(); // </stream:stream>
      else if (this.#stack.length === 0) this.on.element(el);
      return;
    }
    const selfClosing = body.endsWith('/');
    if (selfClosing) body = body.slice(0, -1);
    const nameEnd = body.search(/\s|$/);
    const name = body.slice(0, nameEnd);
    const attrs: Record<string, string> = {};
    for (const m of body.slice(nameEnd).matchAll(ATTR)) attrs[m[1]!] = unescapeXml(m[2] ?? m[3] ?? '');
    if (name === 'stream:stream' && this.#stack.length === 0) {
      this.on.open(attrs); // never closed by a matching tag until the stream ends
      return;
    }
    const el: XmlEl = { name, attrs, children: [], text: '' };
    const parent = this.#stack[this.#stack.length - 1];
    if (parent) parent.children.push(el);
    if (!selfClosing) this.#stack.push(el);
    else if (!parent) this.on.element(el);
  }
}

export interface XmppLogin {
  host: string;
  port: number;
  domain: string;
  user: string;
  password: string;
  resource: string;
  timeoutMs?: number;
}

const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_SM = 'urn:xmpp:sm:3';

/**
 * One logged-in XMPP session with stream management on. Every stanza sent through `send()` is
 * counted, so the server's `<a h/>` can be matched to what was sent (sendAcked); the server's
 * `<r/>` are answered here with the count of stanzas received, as XEP-0198 requires (ejabberd
 * drops a session whose unacked queue overflows).
 */
export class XmppConnection {
  readonly socket: Socket;
  jid = '';
  /** Stanzas sent since `<enabled/>`: the 1-based index of the last one. */
  sent = 0;
  /** Stanzas received since `<enabled/>`. */
  received = 0;
  #smOn = false;
  // Stanzas sent with sendAcked() not yet covered by an `<a h/>`: their index and key, in order.
  readonly #ackIdx: number[] = [];
  readonly #ackKeys: string[] = [];
  #ackHead = 0;
  #queue: XmlEl[] = [];
  #waiter: ((el: XmlEl | Error) => void) | undefined;
  /** After login: every stanza the server sends (its `<r/>`/`<a/>` are handled here). */
  onStanza: (el: XmlEl) => void = () => undefined;
  /** The key of a sendAcked() stanza once an `<a h/>` covers it, in send order. */
  onAcked: (key: string) => void = () => undefined;
  onClose: (why: string) => void = () => undefined;

  private constructor(socket: Socket, private readonly login: XmppLogin) {
    this.socket = socket;
    const parser = new XmlStreamParser({
      open: () => undefined,
      element: (el) => this.#onElement(el),
      close: () => this.onClose('stream closed by server'),
    });
    socket.setEncoding('utf8'); // a StringDecoder: multi-byte characters split across chunks stay whole
    socket.on('data', (chunk: string) => {
      try {
        parser.push(chunk);
      } catch (error) {
        this.#fail(error as Error);
      }
    });
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('socket closed')));
  }

  static async open(login: XmppLogin): Promise<XmppConnection> {
    const socket = connect({ host: login.host, port: login.port });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const conn = new XmppConnection(socket, login);
    try {
      await conn.#handshake();
    } catch (error) {
      socket.destroy();
      throw new Error(`xmpp login of ${login.user}: ${(error as Error).message}`);
    }
    return conn;
  }

  get bareJid(): string {
    return `${this.login.user}@${this.login.domain}`;
  }

  /** Send one stanza (counted for stream management). */
  send(xml: string): number {
    this.socket.write(xml);
    return ++this.sent;
  }

  /** Send a stanza and `<r/>`; onAcked(key) fires once the server's `<a h/>` covers the stanza. */
  sendAcked(xml: string, key: string): void {
    this.#ackIdx.push(this.send(xml));
    this.#ackKeys.push(key);
    this.socket.write('<r xmlns="urn:xmpp:sm:3"/>');
  }

  #onAck(h: number): void {
    while (this.#ackHead < this.#ackIdx.length && this.#ackIdx[this.#ackHead]! <= h) this.onAcked(this.#ackKeys[this.#ackHead++]!);
    if (this.#ackHead > 4096) {
      this.#ackIdx.splice(0, this.#ackHead);
      this.#ackKeys.splice(0, this.#ackHead);
      this.#ackHead = 0;
    }
  }

  /** Acknowledge everything received, close the stream; the socket goes after 1 s at most. */
  close(): void {
    if (this.socket.destroyed) return;
    this.onClose = () => undefined;
    this.socket.end(`${this.#smOn ? `<a xmlns="urn:xmpp:sm:3" h="${this.received}"/>` : ''}</stream:stream>`);
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  #onElement(el: XmlEl): void {
    if (this.#smOn && el.attrs.xmlns === NS_SM) {
      if (el.name === 'r') this.socket.write(`<a xmlns="urn:xmpp:sm:3" h="${this.received}"/>`);
      else if (el.name === 'a') this.#onAck(Number(el.attrs.h));
      return;
    }
    if (this.#smOn && (el.name === 'message' || el.name === 'presence' || el.name === 'iq')) this.received += 1;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w(el);
    } else if (this.jid) this.onStanza(el);
    else this.#queue.push(el);
  }

  #fail(error: Error): void {
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w(error);
    } else if (this.jid) this.onClose(error.message);
  }

  /** The next top-level element during login (bounded in time). */
  #next(): Promise<XmlEl> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for the server')), this.login.timeoutMs ?? 15_000);
      this.#waiter = (el) => {
        clearTimeout(timer);
        if (el instanceof Error) reject(el);
        else if (el.name === 'stream:error') reject(new Error(`stream error: ${el.children.map((c) => c.name).join(',')}`));
        else resolve(el);
      };
    });
  }

  async #features(): Promise<XmlEl> {
    this.socket.write(`<?xml version='1.0'?><stream:stream to='${escapeXml(this.login.domain)}' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
    for (;;) {
      const el = await this.#next();
      if (el.name === 'stream:features') return el;
    }
  }

  async #handshake(): Promise<void> {
    const { user, password, domain, resource } = this.login;
    const features = await this.#features();
    const mechanisms = child(features, 'mechanisms', NS_SASL)?.children.map((m) => m.text) ?? [];
    if (!mechanisms.includes('PLAIN')) throw new Error(`server offers no SASL PLAIN (offers ${mechanisms.join(', ') || 'nothing'}; starttls required?)`);
    this.socket.write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`);
    const auth = await this.#next();
    if (auth.name !== 'success') throw new Error(`SASL ${auth.name}: ${auth.children.map((c) => c.name).join(',')}`);

    const bound = await this.#features(); // stream restart after SASL
    this.socket.write(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${escapeXml(resource)}</resource></bind></iq>`);
    const bind = await this.#next();
    const jid = bind.attrs.type === 'result' ? child(child(bind, 'bind') ?? bind, 'jid')?.text : undefined;
    if (!jid) throw new Error(`bind failed: ${JSON.stringify(bind)}`);
    const session = child(bound, 'session', 'urn:ietf:params:xml:ns:xmpp-session');
    if (session && !child(session, 'optional')) { // RFC 3921 servers; ejabberd marks it optional
      this.socket.write(`<iq type='set' id='sess1' to='${escapeXml(domain)}'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`);
      const reply = await this.#next();
      if (reply.attrs.type !== 'result') throw new Error('session establishment failed');
    }
    if (!child(bound, 'sm', NS_SM)) throw new Error('server offers no stream management (mod_stream_mgmt)');
    this.socket.write(`<enable xmlns='${NS_SM}'/>`); // no resume: a closed bench session ends for good
    const enabled = await this.#next();
    if (enabled.name !== 'enabled') throw new Error(`stream management not enabled: ${enabled.name}`);
    this.#smOn = true;
    this.send('<presence/>'); // available, so messages to the bare JID reach this resource
    this.jid = jid;
    for (const el of this.#queue.splice(0)) this.onStanza(el);
  }
}
