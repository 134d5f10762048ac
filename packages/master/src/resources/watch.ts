/**
 * Key-value watch events turned into resource watch events, Kubernetes style:
 * with a selector, an object that stops matching is DELETED and one that starts
 * matching is ADDED; a deleted object carries the deletion's revision.
 */
import { parseRegistryKey, type FieldSelector, type Resource, type Selector } from '@bramble/api';
import type { WatchEvent } from '@bramble/kv';
import { decodeObject } from './codec.js';

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

/** The resource events for one revision's key-value events. */
export function translateEvents(events: WatchEvent[], filter: ObjectFilter): ResourceEvent[] {
  const out: ResourceEvent[] = [];
  for (const ev of events) {
    const prev = ev.prevKv ? decodeObject(ev.prevKv) : undefined;
    const prevMatches = prev !== undefined && matchesFilter(prev, filter);
    if (ev.type === 'put') {
      const cur = decodeObject(ev.kv);
      const curMatches = matchesFilter(cur, filter);
      if (curMatches) out.push({ type: prevMatches ? 'MODIFIED' : 'ADDED', object: cur });
      else if (prevMatches) out.push({ type: 'DELETED', object: cur });
      continue;
    }
    const revision = String(ev.kv.modRevision);
    if (prev !== undefined) {
      if (prevMatches) out.push({ type: 'DELETED', object: { ...prev, metadata: { ...prev.metadata, resourceVersion: revision } } });
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
