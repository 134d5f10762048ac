// Waiting for objects to be gone (delete --wait, drain): ask until each answers NotFound
// (or comes back with another uid: a new object of the same name), up to a deadline.
import { isApiError, type KindName } from '@bramble/api';
import type { ResourcesApi } from '@bramble/client';

export interface Awaited {
  kind: KindName;
  namespace?: string;
  name: string;
  uid?: string;
}

const FIRST_POLL_MS = 50;
const MAX_POLL_MS = 1_000;

async function gone(api: ResourcesApi, o: Awaited): Promise<boolean> {
  try {
    const live = await api.get(o.kind, o.namespace, o.name);
    return o.uid !== undefined && live.metadata.uid !== o.uid;
  } catch (err) {
    if (isApiError(err, 'NotFound')) return true;
    throw err;
  }
}

/**
 * Resolves with the objects still there at the deadline (empty when all went);
 * `onGone` is called for each as it disappears.
 */
export async function waitUntilGone(api: ResourcesApi, objects: Awaited[], timeoutMs: number, onGone: (o: Awaited) => void = () => {}): Promise<Awaited[]> {
  const deadline = Date.now() + timeoutMs;
  let pending = [...objects];
  let pollMs = FIRST_POLL_MS;
  for (;;) {
    const still: Awaited[] = [];
    for (const o of pending) {
      if (await gone(api, o)) onGone(o);
      else still.push(o);
    }
    pending = still;
    if (pending.length === 0 || Date.now() >= deadline) return pending;
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
    pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
  }
}
