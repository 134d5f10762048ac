/** ConfigMap and Secret rules: key clashes and size limits (values are never echoed for Secrets). */
import type { FieldError } from '../errors.js';
import type { ConfigMap, Secret } from '../types/index.js';
import { FieldPath, invalid, tooLong } from './field.js';

/** Kubernetes' limit on the data of one ConfigMap or Secret. */
export const MAX_CONFIG_DATA_BYTES = 1024 * 1024;

export function validateConfigMap(cm: ConfigMap): FieldError[] {
  const errors: FieldError[] = [];
  let bytes = 0;
  for (const [key, value] of Object.entries(cm.data ?? {})) {
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
    if (cm.binaryData && Object.prototype.hasOwnProperty.call(cm.binaryData, key)) {
      errors.push(invalid(FieldPath.root('data').key(key), key, 'duplicate of key present in binaryData'));
    }
  }
  for (const [key, value] of Object.entries(cm.binaryData ?? {})) {
    bytes += Buffer.byteLength(key) + Buffer.from(value, 'base64').length;
  }
  if (bytes > MAX_CONFIG_DATA_BYTES) errors.push(tooLong(FieldPath.root('data'), MAX_CONFIG_DATA_BYTES));
  return errors;
}

export function validateSecret(secret: Secret): FieldError[] {
  const errors: FieldError[] = [];
  let bytes = 0;
  for (const [key, value] of Object.entries(secret.data ?? {})) {
    if (secret.stringData && Object.prototype.hasOwnProperty.call(secret.stringData, key)) continue; // stringData wins
    bytes += Buffer.byteLength(key) + Buffer.from(value, 'base64').length;
  }
  for (const [key, value] of Object.entries(secret.stringData ?? {})) bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  if (bytes > MAX_CONFIG_DATA_BYTES) errors.push(tooLong(FieldPath.root('data'), MAX_CONFIG_DATA_BYTES));
  if (secret.type === '') errors.push(invalid(FieldPath.root('type'), '', 'must not be empty (omit it for Opaque)'));
  return errors;
}
