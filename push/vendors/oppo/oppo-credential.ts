/**
 * One OPPO credential in the config (`push.credentials.<name>`): the app's AppKey and
 * MasterSecret from the OPPO push console, the notification channel registered there, and
 * optional endpoint overrides (local fakes, a proxy). Production hosts are only defaults.
 */
import { Type, type Static } from '@sinclair/typebox';
import { CredentialConfigError } from '../contract.ts';
import { checkEndpoints, checkTrimmed } from '../credential-check.ts';
import { OPPO_AUTH_PATH, OPPO_HOSTS, OPPO_UNICAST_PATH, type OppoRegion } from './oppo-facts.ts';

export const OppoCredentialSchema = Type.Object({
  type: Type.Literal('oppo'),
  appKey: Type.String({ minLength: 1, maxLength: 128, description: 'AppKey from the OPPO push console.' }),
  masterSecret: Type.String({ minLength: 1, maxLength: 256, description: 'MasterSecret from the OPPO push console (signs the auth request; never sent).' }),
  channelId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Notification channel registered in the OPPO console; required (Android 8+ shows nothing without it).' })),
  region: Type.Optional(Type.Union([Type.Literal('cn'), Type.Literal('intl')], { description: '`cn` (default) or `intl`: which OPPO host serves this app\'s devices.' })),
  clickActivity: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Activity opened on tap (click_action_type 4); the app is launched when unset.' })),
  requestTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 60_000, description: 'Timeout of one HTTPS call to OPPO.' })),
  endpoints: Type.Optional(Type.Object({
    authUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'Full URL of the auth call.' })),
    pushUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'Full URL of the unicast call.' })),
    ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM of an extra CA to trust (a local fake).' })),
  }, { additionalProperties: false })),
}, { additionalProperties: false });

export type OppoCredential = Static<typeof OppoCredentialSchema>;

/** The URLs one credential talks to. */
export function oppoUrls(credential: OppoCredential): { authUrl: string; pushUrl: string } {
  const host = OPPO_HOSTS[(credential.region ?? 'cn') as OppoRegion];
  return {
    authUrl: credential.endpoints?.authUrl ?? host + OPPO_AUTH_PATH,
    pushUrl: credential.endpoints?.pushUrl ?? host + OPPO_UNICAST_PATH,
  };
}

/** What the schema cannot say. Messages name the setting and never carry a value. */
export function checkOppoCredential(name: string, credential: OppoCredential): void {
  const at = `push.credentials.${name}`;
  if (credential.channelId === undefined || credential.channelId.trim() === '') {
    throw new CredentialConfigError(`${at}.channelId is required for OPPO: register a notification channel in the OPPO console (Android 8+ shows no notification without one)`);
  }
  checkTrimmed(`${at}.appKey`, credential.appKey);
  checkTrimmed(`${at}.masterSecret`, credential.masterSecret);
  checkEndpoints(at, credential.endpoints);
}
