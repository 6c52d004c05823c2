/**
 * Every fake vendor beyond APNs/FCM (Huawei, Honor, Xiaomi, OPPO, vivo, Web Push) on HTTPS
 * 127.0.0.1, credentials for each (a good one, and one with a wrong secret), and one uniform
 * handle per vendor so a test body can be written once and run for every vendor.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Platform } from '../../protocol/index.ts';
import type { CredentialsConfig } from '../../push/vendors/providers.ts';
import { startHonorFake, type FakeHonor } from '../../tools/fakes/honor-server.ts';
import { startHuaweiFake, type FakeHuawei } from '../../tools/fakes/huawei-server.ts';
import { startFakeOppo, type FakeOppo } from '../../tools/fakes/oppo-server.ts';
import { startFakeVivo, type FakeVivo } from '../../tools/fakes/vivo-server.ts';
import { startFakeWebPush, type FakeSubscription, type FakeWebPush } from '../../tools/fakes/webpush-server.ts';
import { startXiaomiFake, type FakeXiaomi } from '../../tools/fakes/xiaomi-server.ts';
import type { TestClient } from './client.ts';

export type OemVendorName = 'huawei' | 'honor' | 'xiaomi' | 'oppo' | 'vivo' | 'webpush';
export const OEM_VENDORS: readonly OemVendorName[] = ['huawei', 'honor', 'xiaomi', 'oppo', 'vivo', 'webpush'];
/** The Android phone makers' channels (a device may register one of them and an FCM token). */
export const ANDROID_OEMS: readonly OemVendorName[] = ['huawei', 'honor', 'xiaomi', 'oppo', 'vivo'];

/** One push a fake accepted, reduced to what every test checks. */
export interface OemPush {
  /** The device token (Web Push: the subscription's id at the fake). */
  token: string;
  title: string | undefined;
  body: string | undefined;
  /** Our custom data as the app receives it (sender, receiver, messageId, eventId, …). */
  data: Record<string, string>;
  /** The per-push idempotency key the vendor carries (data.pushId, requestId, app_message_id, the payload id). */
  key: string;
}

export interface OemVendor {
  name: OemVendorName;
  /** The configured credential, and one with a wrong secret. */
  credential: string;
  badCredential: string;
  platform: Platform;
  /** A fresh device token (Web Push: a subscription the fake knows, for the good key pair). */
  newToken(label: string): unknown;
  /** How pushes to this token are found at the fake. */
  keyOf(token: unknown): string;
  pushes(): OemPush[];
  pushesTo(token: unknown): OemPush[];
  /** The vendor answers "this token is gone" for it from now on. */
  kill(token: unknown): void;
  /** Every access token the vendor issued is expired from now on (undefined: the vendor has none). */
  expireAuth: (() => void) | undefined;
  /** Access-token requests the fake has answered so far (0 for vendors without one). */
  authRequests(): number;
  /** The next send gets a transient "try later" answer (flow control, 5xx, 429). */
  failOnceTransient(): void;
  /** Every send gets the vendor's quota answer until reset. */
  quotaExceeded(on: boolean): void;
  reset(): void;
}

export interface OemPushEnv {
  vendors: Record<OemVendorName, OemVendor>;
  credentials: CredentialsConfig;
  fakes: { huawei: FakeHuawei; honor: FakeHonor; xiaomi: FakeXiaomi; oppo: FakeOppo; vivo: FakeVivo; webpush: FakeWebPush };
  close(): Promise<void>;
}

const json = (text: unknown): Record<string, string> => {
  try {
    return typeof text === 'string' ? (JSON.parse(text) as Record<string, string>) : {};
  } catch {
    return {};
  }
};
const str = (token: unknown): string => token as string;

function vapidPair(): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = privateKey.export({ format: 'jwk' });
  const pub = publicKey.export({ format: 'jwk' });
  const raw = Buffer.concat([Buffer.from([4]), Buffer.from(pub.x!, 'base64url'), Buffer.from(pub.y!, 'base64url')]);
  return { publicKey: raw.toString('base64url'), privateKey: jwk.d! };
}

const HUAWEI = { appId: '101234567', appSecret: 'hms-secret-0123456789' };
const HONOR = { appId: '104412345', clientId: 'honor-client-1', clientSecret: 'honor-secret-0123456789' };
const XIAOMI = { appSecret: 'mi-secret-0123456789==', packageName: 'com.example.tidings' };
const OPPO = { appKey: 'oppo-app-key-e2e', masterSecret: 'oppo-master-secret-e2e' };
const VIVO = { appId: 10004, appKey: 'vivo-app-key-e2e', appSecret: 'vivo-app-secret-e2e' };

export async function startOemPushEnv(): Promise<OemPushEnv> {
  const goodVapid = vapidPair();
  const otherVapid = vapidPair();
  const [huawei, honor, xiaomi, oppo, vivo, webpush] = await Promise.all([
    startHuaweiFake({ apps: [HUAWEI] }),
    startHonorFake({ apps: [HONOR] }),
    startXiaomiFake({ apps: [{ appSecret: XIAOMI.appSecret, packageNames: [XIAOMI.packageName] }] }),
    startFakeOppo(OPPO),
    startFakeVivo(VIVO),
    startFakeWebPush(),
  ]);
  const credentials: CredentialsConfig = {
    hms: { type: 'huawei', ...HUAWEI, channelId: 'messages', callChannelId: 'calls', endpoints: { authUrl: huawei.authUrl, pushUrl: huawei.url, ca: huawei.ca } },
    'hms-bad': { type: 'huawei', appId: HUAWEI.appId, appSecret: 'wrong-hms-secret', endpoints: { authUrl: huawei.authUrl, pushUrl: huawei.url, ca: huawei.ca } },
    honor: { type: 'honor', ...HONOR, channelId: 'messages', endpoints: { authUrl: honor.authUrl, pushUrl: honor.url, ca: honor.ca } },
    'honor-bad': { type: 'honor', appId: HONOR.appId, clientId: HONOR.clientId, clientSecret: 'wrong-honor-secret', endpoints: { authUrl: honor.authUrl, pushUrl: honor.url, ca: honor.ca } },
    mi: { type: 'xiaomi', ...XIAOMI, channelId: 'messages', endpoints: { pushUrl: xiaomi.url, ca: xiaomi.ca } },
    'mi-bad': { type: 'xiaomi', appSecret: 'wrong-mi-secret', packageName: XIAOMI.packageName, endpoints: { pushUrl: xiaomi.url, ca: xiaomi.ca } },
    'oppo-cn': { type: 'oppo', ...OPPO, channelId: 'im_messages', endpoints: { authUrl: oppo.authUrl, pushUrl: oppo.pushUrl, ca: oppo.ca } },
    'oppo-bad': { type: 'oppo', appKey: OPPO.appKey, masterSecret: 'wrong-oppo-secret', channelId: 'im_messages', endpoints: { authUrl: oppo.authUrl, pushUrl: oppo.pushUrl, ca: oppo.ca } },
    'vivo-main': { type: 'vivo', ...VIVO, endpoints: { authUrl: vivo.authUrl, pushUrl: vivo.pushUrl, ca: vivo.ca } },
    'vivo-bad': { type: 'vivo', appId: VIVO.appId, appKey: VIVO.appKey, appSecret: 'wrong-vivo-secret', endpoints: { authUrl: vivo.authUrl, pushUrl: vivo.pushUrl, ca: vivo.ca } },
    web: { type: 'webpush', subject: 'mailto:push@example.com', ...goodVapid, endpoints: { ca: webpush.ca } },
    // A valid key pair, but not the one the browser subscribed with: the push service answers 403.
    'web-bad': { type: 'webpush', subject: 'mailto:push@example.com', ...otherVapid, endpoints: { ca: webpush.ca } },
  };

  let seq = 0;
  const tokenOf = (vendor: string, label: string) => `${vendor}-${label}-${++seq}-${'t'.repeat(24)}`;
  const noAuth = () => 0;

  const vendors: Record<OemVendorName, OemVendor> = {
    huawei: {
      name: 'huawei', credential: 'hms', badCredential: 'hms-bad', platform: 'android',
      newToken: (label) => tokenOf('hw', label), keyOf: str,
      pushes: () => huawei.received.map((r) => {
        const m = r.message as { token: string[]; data: string; android: { notification?: { title: string; body: string } } };
        const data = json(m.data);
        return { token: m.token[0]!, title: m.android.notification?.title, body: m.android.notification?.body, data, key: data.pushId ?? '' };
      }),
      pushesTo(token) { return this.pushes().filter((p) => p.token === token); },
      kill: (token) => huawei.control.deadTokens.add(str(token)),
      expireAuth: () => huawei.control.expireAccessTokens(),
      authRequests: () => huawei.tokenRequests.length,
      failOnceTransient: () => huawei.control.failNext(1, { httpStatus: 503, msg: 'flow control' }),
      quotaExceeded: (on) => { huawei.control.quotaExceeded = on; huawei.control.quotaRetryAfterSec = on ? 3600 : undefined; },
      reset: () => huawei.control.reset(),
    },
    honor: {
      name: 'honor', credential: 'honor', badCredential: 'honor-bad', platform: 'android',
      newToken: (label) => tokenOf('ho', label), keyOf: str,
      // A token Honor answers in expireTokens was accepted but reaches no device.
      pushes: () => honor.received.filter((r) => r.expired.length === 0).map((r) => {
        const b = r.body as { token: string[]; data: string; android?: { notification?: { title: string; body: string } } };
        const data = json(b.data);
        return { token: b.token[0]!, title: b.android?.notification?.title, body: b.android?.notification?.body, data, key: data.pushId ?? '' };
      }),
      pushesTo(token) { return this.pushes().filter((p) => p.token === token); },
      kill: (token) => honor.control.deadTokens.add(str(token)),
      expireAuth: () => honor.control.expireAccessTokens(),
      authRequests: () => honor.tokenRequests.length,
      failOnceTransient: () => honor.control.failNext(1, { httpStatus: 503, message: 'busy' }),
      quotaExceeded: (on) => { honor.control.quotaExceeded = on; honor.control.quotaRetryAfterSec = on ? 3600 : undefined; },
      reset: () => honor.control.reset(),
    },
    xiaomi: {
      name: 'xiaomi', credential: 'mi', badCredential: 'mi-bad', platform: 'android',
      newToken: (label) => tokenOf('mi', label), keyOf: str,
      pushes: () => xiaomi.received.map((r) => {
        const data = json(r.fields.payload);
        return { token: r.fields.registration_id!, title: r.fields.title, body: r.fields.description, data, key: data.pushId ?? '' };
      }),
      pushesTo(token) { return this.pushes().filter((p) => p.token === token); },
      kill: (token) => xiaomi.control.deadTokens.add(str(token)),
      expireAuth: undefined,
      authRequests: noAuth,
      failOnceTransient: () => xiaomi.control.failNext(1, { code: 10002, description: 'service busy' }),
      quotaExceeded: (on) => { xiaomi.control.quotaExceeded = on; },
      reset: () => xiaomi.control.reset(),
    },
    oppo: {
      name: 'oppo', credential: 'oppo-cn', badCredential: 'oppo-bad', platform: 'android',
      newToken: (label) => tokenOf('CN_op', label), keyOf: str,
      pushes: () => oppo.received.map((r) => {
        const n = r.message.notification as { title: string; content: string; action_parameters?: string; app_message_id: string };
        return { token: String(r.message.target_value), title: n.title, body: n.content, data: json(n.action_parameters), key: n.app_message_id };
      }),
      pushesTo(token) { return this.pushes().filter((p) => p.token === token); },
      kill: (token) => oppo.control.deadTokens.add(str(token)),
      expireAuth: () => oppo.control.expireTokensNow(),
      authRequests: () => oppo.counts.authCalls,
      failOnceTransient: () => oppo.control.failNext(1, -2),
      quotaExceeded: (on) => { oppo.control.quotaExceeded = on; },
      reset: () => oppo.control.reset(),
    },
    vivo: {
      name: 'vivo', credential: 'vivo-main', badCredential: 'vivo-bad', platform: 'android',
      newToken: (label) => tokenOf('v2-vi', label), keyOf: str,
      pushes: () => vivo.received.map((r) => ({
        token: String(r.body.regId), title: r.body.title, body: r.body.content, data: { ...(r.body.clientCustomMap ?? {}) }, key: String(r.body.requestId),
      })),
      pushesTo(token) { return this.pushes().filter((p) => p.token === token); },
      kill: (token) => vivo.control.deadTokens.add(str(token)),
      expireAuth: () => vivo.control.expireTokensNow(),
      authRequests: () => vivo.counts.authCalls,
      failOnceTransient: () => vivo.control.failNext(1, 10072),
      quotaExceeded: (on) => { vivo.control.quotaExceeded = on; },
      reset: () => vivo.control.reset(),
    },
    webpush: {
      name: 'webpush', credential: 'web', badCredential: 'web-bad', platform: 'web',
      newToken: () => webpush.newSubscription({ applicationServerKey: goodVapid.publicKey }),
      keyOf: (token) => webpush.idOf(token as FakeSubscription),
      pushes: () => webpush.received.map((r) => {
        const p = json(r.plaintext) as unknown as { title?: string; body?: string; data?: Record<string, string>; id?: string };
        return { token: r.subscriptionId, title: p.title, body: p.body, data: { ...(p.data ?? {}) }, key: p.id ?? '' };
      }),
      pushesTo(token) { const id = this.keyOf(token); return this.pushes().filter((p) => p.token === id); },
      kill: (token) => webpush.control.unsubscribed.add(webpush.idOf(token as FakeSubscription)),
      expireAuth: undefined,
      authRequests: noAuth,
      failOnceTransient: () => webpush.control.failNext(1, 429, { retryAfterSec: 0 }),
      // Web Push has no quota answer of its own: a long 429 stands in for it.
      quotaExceeded: (on) => { if (on) webpush.control.failNext(1000, 429, { retryAfterSec: 3600 }); else webpush.control.reset(); },
      reset: () => webpush.control.reset(),
    },
  };

  return {
    vendors, credentials, fakes: { huawei, honor, xiaomi, oppo, vivo, webpush },
    async close() {
      await Promise.all([huawei.close(), honor.close(), xiaomi.close(), oppo.close(), vivo.close(), webpush.close()]);
    },
  };
}

/** Register a vendor token for the logged-in device of `client`. */
export async function registerOem(client: TestClient, vendor: OemVendor, token: unknown, credential = vendor.credential) {
  return client.expect({ type: 'push_register', provider: vendor.name, token: token as never, credential }, 'push_registered');
}
