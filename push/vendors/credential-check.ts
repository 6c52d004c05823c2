// Checks of one vendor credential that several vendors share. Every message names the setting
// (`push.credentials.<name>.<field>`) and never carries its value: a secret must not reach a log
// through a config error.

import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { CredentialConfigError } from './contract.ts';

/** First schema error as `push.credentials.<name>.<path>: <message>` (TypeBox messages never quote values). */
export function schemaError(schema: TSchema, name: string, value: unknown): string | undefined {
  const first = Value.Errors(schema, value).First();
  if (!first) return undefined;
  const path = first.path.split('/').filter(Boolean).join('.');
  return `push.credentials.${name}${path ? `.${path}` : ''}: ${first.message}`;
}

/** Throws the first schema error of a credential (checkCredential runs outside the config loader too). */
export function checkSchema(schema: TSchema, name: string, value: unknown): void {
  const error = schemaError(schema, name, value);
  if (error) throw new CredentialConfigError(error);
}

/** An endpoint override: an https:// URL without user info (`setting` is its full config path). */
export function checkEndpointUrl(setting: string, url: string | undefined): void {
  if (url === undefined) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CredentialConfigError(`${setting} is not a URL`);
  }
  if (parsed.protocol !== 'https:') throw new CredentialConfigError(`${setting} must be an https:// URL`);
  if (parsed.username !== '' || parsed.password !== '') throw new CredentialConfigError(`${setting} must not carry user info`);
}

/** An extra CA to trust (a local fake vendor): a PEM certificate. */
export function checkPemCa(setting: string, ca: string | undefined): void {
  if (ca !== undefined && !ca.includes('-----BEGIN CERTIFICATE-----')) throw new CredentialConfigError(`${setting} is not a PEM certificate`);
}

/** vivo and OPPO sign the trimmed strings, Huawei/Honor take the secret as-is: a stray space is a copy-paste error. */
export function checkTrimmed(setting: string, value: string): void {
  if (value.trim() !== value) throw new CredentialConfigError(`${setting} has leading or trailing spaces`);
}

/** The `endpoints` overrides of an HTTP vendor's credential (`<at>.endpoints.*`): https URLs and a PEM CA. */
export function checkEndpoints(at: string, endpoints: { authUrl?: string; pushUrl?: string; ca?: string } | undefined): void {
  checkEndpointUrl(`${at}.endpoints.authUrl`, endpoints?.authUrl);
  checkEndpointUrl(`${at}.endpoints.pushUrl`, endpoints?.pushUrl);
  checkPemCa(`${at}.endpoints.ca`, endpoints?.ca);
}

/** A secret sent as-is: a pasted one with a stray newline or space authenticates as "wrong secret" forever. */
export function checkNoWhitespace(setting: string, value: string): void {
  if (/\s/.test(value)) throw new CredentialConfigError(`${setting} contains whitespace (copy-paste error?)`);
}
