/** ConfigMaps and Secrets (v1). */
import type { ObjectMeta } from './meta.js';

export interface ConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: ObjectMeta;
  data?: Record<string, string>;
  /** Values are base64. A key may not be in both `data` and `binaryData`. */
  binaryData?: Record<string, string>;
  /** Once true, data may not change and `immutable` may not be unset. */
  immutable?: boolean;
}

export interface Secret {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: ObjectMeta;
  /** e.g. `Opaque` (the default). */
  type?: string;
  /** Values are base64. */
  data?: Record<string, string>;
  /** Write-only plain-text values: `applyDefaults` encodes them into `data` (they win over `data`). */
  stringData?: Record<string, string>;
  immutable?: boolean;
}
