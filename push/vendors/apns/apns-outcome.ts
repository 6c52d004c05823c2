// Maps node-apn failure objects to PushOutcome. node-apn v8 reports failures
// in several shapes (see node_modules/@parse/node-apn/lib/client.js):
//   { status, response: { reason, timestamp? } }       Apple answered with JSON
//   { status: 403, error: VError('ExpiredProviderToken') }
//   { status: 500, error: VError('Error 500, ...') }   reason dropped by node-apn
//   { error: VError(...) }                             no HTTP answer (network, timeout)

import type { PushOutcome } from '../contract.ts';
import type { ApnsEnvironment } from './apns-credential.ts';

export interface ApnsFailureLike {
  status?: number | string;
  response?: { reason?: string; timestamp?: string | number };
  error?: unknown;
}

// Token itself is gone: prune it.
const DEAD_TOKEN = new Set(['Unregistered', 'ExpiredToken', 'BadDeviceToken']);
// Our setup is wrong (credential, topic, environment): tell operators, keep the token.
const CONFIG = new Set([
  'DeviceTokenNotForTopic',
  'TopicDisallowed',
  'BadTopic',
  'MissingTopic',
  'BadCertificateEnvironment',
  'BadCertificate',
  'InvalidProviderToken',
  'MissingProviderToken',
  'ExpiredProviderToken',
  'BadEnvironmentKeyInToken',
  'Forbidden',
]);
// Transient on Apple's side or throttling.
const RETRY = new Set([
  'TooManyRequests',
  'TooManyProviderTokenUpdates',
  'InternalServerError',
  'ServiceUnavailable',
  'Shutdown',
  'IdleTimeout',
]);

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  return 'unknown error';
}

// node-apn swallows the JSON body for these two answers and leaves only its own VError text.
function reasonFromError(httpStatus: number | undefined, message: string): string | undefined {
  if (httpStatus === 403 && message === 'ExpiredProviderToken') return 'ExpiredProviderToken';
  if (httpStatus === 500 && message.startsWith('Error 500')) return 'InternalServerError';
  return undefined;
}

export function classifyApnsFailure(failure: ApnsFailureLike, environment: ApnsEnvironment): PushOutcome {
  const httpStatus = typeof failure.status === 'number' ? failure.status : undefined;
  const reason = failure.response?.reason ?? reasonFromError(httpStatus, errorMessage(failure.error));

  if (httpStatus === undefined) {
    return { status: 'retry', reason: `network: ${errorMessage(failure.error)}` };
  }
  if (reason !== undefined) {
    if (DEAD_TOKEN.has(reason)) {
      // BadDeviceToken also happens when a sandbox token is sent to production
      // (or vice versa); the spec still prunes, so record the environment used.
      return { status: 'dead_token', reason: `${reason} (environment=${environment})`, httpStatus };
    }
    if (CONFIG.has(reason)) return { status: 'config_error', reason: `${reason} (environment=${environment})`, httpStatus };
    if (RETRY.has(reason)) return { status: 'retry', reason, httpStatus };
  }
  const label = reason ?? `HTTP ${httpStatus}`;
  if (httpStatus === 429 || httpStatus >= 500 || httpStatus === 408) return { status: 'retry', reason: label, httpStatus };
  if (httpStatus === 410) return { status: 'dead_token', reason: label, httpStatus };
  if (httpStatus === 401 || httpStatus === 403) return { status: 'config_error', reason: label, httpStatus };
  // PayloadTooLarge, BadExpirationDate, BadPriority, BadCollapseId, BadMessageId, ...
  return { status: 'rejected', reason: label, httpStatus };
}
