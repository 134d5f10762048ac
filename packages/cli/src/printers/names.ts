// How kubectl names kinds and objects in its messages: `deployment.apps/web created`,
// `pod "x" deleted`, `deployments.apps "web" not found`.
import { resolveKind, type KindInfo, type Resource } from '@bramble/api';

function info(kind: KindInfo | string): KindInfo | undefined {
  return typeof kind === 'string' ? resolveKind(kind) : kind;
}

/** `deployment.apps`, `pod`: the singular with the API group, as in `-o name`. */
export function kindRef(kind: KindInfo | string): string {
  const k = info(kind);
  if (!k) return String(kind).toLowerCase();
  return k.group ? `${k.singular}.${k.group}` : k.singular;
}

/** `deployments.apps`, `pods`: the plural with the API group, as in NotFound messages. */
export function pluralRef(kind: KindInfo | string): string {
  const k = info(kind);
  if (!k) return String(kind).toLowerCase();
  return k.group ? `${k.plural}.${k.group}` : k.plural;
}

/** `deployment.apps/web`. */
export function objectRef(obj: Pick<Resource, 'kind' | 'metadata'>): string {
  return `${kindRef(obj.kind)}/${obj.metadata.name ?? ''}`;
}
