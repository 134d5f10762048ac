/** Metadata and small shared types, with Kubernetes' field names and meanings. */

/** RFC 3339 time as a string, e.g. `2024-05-01T10:00:00Z`. */
export type Time = string;

/** An integer or a string: a port number or port name, a count or a percentage ("25%"). */
export type IntOrString = number | string;

/**
 * A resource quantity as written in a manifest: `"500m"`, `"0.5"`, `1`,
 * `"128Mi"`, `"1G"`. YAML turns bare numbers into numbers, so both are allowed;
 * read them with `parseCpu` / `parseMemory` from `quantity.ts`.
 */
export type Quantity = string | number;

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  /** At most one owner is the managing controller. */
  controller?: boolean;
  /** With foreground deletion, the owner is not deleted until this dependent is. */
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  /** Prefix for a server-generated name when `name` is empty (`web-7d9f8b6c5-` + random). */
  generateName?: string;
  namespace?: string;
  uid?: string;
  /** The mod revision of the object's key in the store; opaque to clients, used for optimistic updates. */
  resourceVersion?: string;
  /** Incremented by the server on every change of `spec`. */
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  creationTimestamp?: Time;
  deletionTimestamp?: Time;
  deletionGracePeriodSeconds?: number;
}

/** Metadata allowed in a pod template (the rest is set on the pods it stamps out). */
export interface PodTemplateMeta {
  name?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Accepted (and ignored) because `kubectl create ... -o yaml` writes `creationTimestamp: null`. */
  creationTimestamp?: Time;
}

export type LabelSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  key: string;
  operator: LabelSelectorOperator;
  /** Non-empty for In and NotIn; empty for Exists and DoesNotExist. */
  values?: string[];
}

/** `matchLabels` and `matchExpressions` are ANDed. An empty selector matches everything. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** Identifies any object, e.g. the pod an Event or an endpoint address is about. */
export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  resourceVersion?: string;
  /** A field inside the object, e.g. `spec.containers{web}`. */
  fieldPath?: string;
}

export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
}

/** `kind: List` (what `get -o yaml` prints for several objects). */
export interface List<T = unknown> {
  apiVersion: 'v1';
  kind: 'List';
  metadata?: ListMeta;
  items: T[];
}
