// The Events section at the bottom of `describe`: the events about one object, oldest
// first, with when each was last seen (and `(x4 over 10m)` for repeated ones).
import type { Event, Resource } from '@bramble/api';
import { humanDuration } from './age.js';
import { eventTimeMs } from './columns.js';
import type { DescribeWriter } from './describe-writer.js';

/** Events whose involvedObject is `obj` (by kind and name, and by uid when both have one), sorted by time. */
export function eventsAbout(obj: Pick<Resource, 'kind' | 'metadata'>, events: Event[]): Event[] {
  const uid = obj.metadata.uid;
  return events
    .filter((e) => {
      const o = e.involvedObject ?? {};
      if (o.kind !== obj.kind || o.name !== obj.metadata.name) return false;
      if (obj.metadata.namespace && o.namespace && o.namespace !== obj.metadata.namespace) return false;
      return !(uid && o.uid && o.uid !== uid);
    })
    .sort((a, b) => (eventTimeMs(a) ?? 0) - (eventTimeMs(b) ?? 0));
}

function lastSeen(e: Event, nowMs: number): string {
  const last = eventTimeMs(e);
  if (last === undefined) return '<unknown>';
  const age = humanDuration(nowMs - last);
  const count = e.count ?? 1;
  if (count <= 1) return age;
  const first = e.firstTimestamp ? Date.parse(e.firstTimestamp) : NaN;
  return Number.isNaN(first) ? `${age} (x${count})` : `${age} (x${count} over ${humanDuration(nowMs - first)})`;
}

export function describeEvents(w: DescribeWriter, events: Event[], nowMs: number): void {
  if (events.length === 0) {
    w.line(0, 'Events:', '<none>');
    return;
  }
  w.line(0, 'Events:');
  w.line(1, 'LAST SEEN', 'TYPE', 'REASON', 'FROM', 'MESSAGE');
  w.line(1, '---------', '----', '------', '----', '-------');
  for (const e of events) {
    const from = e.source?.component ?? e.reportingComponent ?? '';
    w.line(1, lastSeen(e, nowMs), e.type ?? '', e.reason ?? '', from, (e.message ?? '').trim());
  }
}
