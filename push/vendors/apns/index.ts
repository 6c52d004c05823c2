import { Type } from '@sinclair/typebox';
import { lazyProvider, RegistrationError, type PushVendor, type RegistrationKind } from '../contract.ts';
import { ApnsCredentialSchema, checkApnsCredential, type ApnsCredential } from './apns-credential.ts';
import { APNS_TOKEN_PATTERN, APNS_VOIP, buildApnsRequest } from './apns-payload.ts';

/** Topic used in previews when neither the registration nor a credential names one (sandbox mode). */
const SANDBOX_TOPIC = 'dev.tidings.sandbox';

/** DEV-2: the token's environment (how the app was signed) picks the endpoint; production when unsaid. */
function apnsOptions(fields: { environment?: string | undefined; topic?: string | undefined }): Record<string, string> {
  const environment = fields.environment ?? 'production';
  if (environment !== 'development' && environment !== 'production') throw new RegistrationError('environment must be "development" or "production"');
  return { environment, ...(fields.topic !== undefined ? { topic: fields.topic } : {}) };
}

const token = Type.String({ pattern: APNS_TOKEN_PATTERN });

const alert: RegistrationKind = {
  name: 'apns', tokenSchema: token, storedToken: (t) => t as string, priority: 30, carries: () => true, options: apnsOptions,
};
// A PushKit token takes only call rings (iOS requires every VoIP push to report a new call).
const voip: RegistrationKind = {
  name: APNS_VOIP, tokenSchema: token, storedToken: (t) => t as string, priority: 100, carries: (purpose) => purpose === 'call_ring', voip: true, options: apnsOptions,
};

export const apnsVendor: PushVendor<ApnsCredential> = {
  type: 'apns',
  credentialSchema: ApnsCredentialSchema,
  checkCredential: checkApnsCredential,
  registrations: [alert, voip],
  create: (name, credential, deps) => lazyProvider(name, async () => new (await import('./apns-provider.ts')).ApnsProvider(name, credential, { log: deps.log })),
  preview(target, message) {
    const built = buildApnsRequest(target, message, SANDBOX_TOPIC);
    if (!built.ok) return { ok: false, reason: 'payload_too_large' };
    return { ok: true, request: { headers: built.request.headers, payload: built.request.payload }, truncated: built.request.truncated };
  },
};
