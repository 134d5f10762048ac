/**
 * Key-value watch events turned into resource watch events, Kubernetes style:
 * with a selector, an object that stops matching is DELETED and one that starts
 * matching is ADDED; a deleted object carries the deletion's revision.
 *
 * Event objects are shared by every watcher of a revision and frozen (codec.ts
 * decodeShared): consumers must not change them.
 */
import { parseRegistryKey, type FieldSelector, type Resource, type Selector } from '@bramble/api';
import type { WatchEvent } from '@bramble/kv';
import { decodeShared } from './codec.js';

export type ResourceEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface ResourceEvent {
  type: ResourceEventType;
  object: Resource;
}

export interface ObjectFilter {
  labels?: Selector;
  fields?: FieldSelector;
}

export function matchesFilter(obj: Resource, filter: ObjectFilter): boolean {
  if (filter.labels && !filter.labels.matches(obj.metadata.labels)) return false;
  if (filter.fields && !filter.fields.matches(obj)) return false;
  return true;
}

function isEverything(filter: ObjectFilter): boolean {
  return (filter.labels === undefined || filter.labels.isEverything()) && (filter.fields === undefined || filter.fields.isEverything());
}

/** A BOOKMARK: only the kind and a revision the watcher has seen everything up to. */
export function bookmark(kind: string, apiVersion: string, revision: number): ResourceEvent {
  return { type: 'BOOKMARK', object: { kind, apiVersion, metadata: { resourceVersion: String(revision) } } as unknown as Resource };
}

/** Per deletion event: the previous object at the deletion's revision, shared by all watchers. */
const deletedObjects = new WeakMap<WatchEvent, Resource>();

function deletedObject(ev: WatchEvent, prev: Resource): Resource {
  let obj = deletedObjects.get(ev);
  if (obj === undefined) {
    // A new top level and metadata; everything else is the (frozen) previous object's.
    const metadata = Object.freeze({ ...prev.metadata, resourceVersion: String(ev.kv.modRevision) });
    obj = Object.freeze({ ...prev, metadata }) as Resource;
    deletedObjects.set(ev, obj);
  }
  return obj;
}

/** The resource events for one revision's key-value events. */
export function translateEvents(events: WatchEvent[], filter: ObjectFilter): ResourceEvent[] {
  const out: ResourceEvent[] = [];
  for (const ev of events) {
    const prev = ev.prevKv ? decodeShared(ev.prevKv) : undefined;
    const prevMatches = prev !== undefined && matchesFilter(prev, filter);
    if (ev.type === 'put') {
      const cur = decodeShared(ev.kv);
      const curMatches = matchesFilter(cur, filter);
      if (curMatches) out.push({ type: prevMatches ? 'MODIFIED' : 'ADDED', object: cur });
      else if (prevMatches) out.push({ type: 'DELETED', object: cur });
      continue;
    }
    const revision = String(ev.kv.modRevision);
    if (prev !== undefined) {
      if (prevMatches) out.push({ type: 'DELETED', object: deletedObject(ev, prev) });
      continue;
    }
    // The previous version is no longer in the history: say what we can, when no selector needs the object.
    const parsed = parseRegistryKey(ev.kv.key);
    if (parsed && isEverything(filter)) {
      const metadata: Resource['metadata'] = { name: parsed.name, resourceVersion: revision };
      if (parsed.namespace !== undefined) metadata.namespace = parsed.namespace;
      out.push({ type: 'DELETED', object: { apiVersion: parsed.kind.apiVersion, kind: parsed.kind.kind, metadata } as Resource });
    }
  }
  return out;
}
