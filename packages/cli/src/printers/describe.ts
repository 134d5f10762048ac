// `describe`: one object in kubectl's layout, ending with the Events about it.
import type { Event, KindInfo, Resource } from '@bramble/api';
import { DescribeWriter } from './describe-writer.js';
import {
  describeConfigMap,
  describeDaemonSet,
  describeDeployment,
  describeEndpoints,
  describeGeneric,
  describeNamespace,
  describeNode,
  describeReplicaSet,
  describeSecret,
  describeService,
  type DescribeRelated,
} from './describe-kinds.js';
import { describePod } from './describe-pod.js';
import { describeEvents, eventsAbout } from './events.js';

export type { DescribeRelated } from './describe-kinds.js';

/** The full `describe` text of `obj`; `events` may hold unrelated events (only those about `obj` are shown). */
export function describeObject(kind: KindInfo, obj: Resource, related: DescribeRelated, events: Event[], nowMs: number): string {
  const w = new DescribeWriter();
  switch (obj.kind) {
    case 'Pod':
      describePod(w, obj, nowMs);
      break;
    case 'Deployment':
      describeDeployment(w, obj, related);
      break;
    case 'ReplicaSet':
      describeReplicaSet(w, obj, related);
      break;
    case 'DaemonSet':
      describeDaemonSet(w, obj, related);
      break;
    case 'Node':
      describeNode(w, obj, related, nowMs);
      break;
    case 'Service':
      describeService(w, obj, related);
      break;
    case 'Endpoints':
      describeEndpoints(w, obj);
      break;
    case 'ConfigMap':
      describeConfigMap(w, obj);
      break;
    case 'Secret':
      describeSecret(w, obj);
      break;
    case 'Namespace':
      describeNamespace(w, obj);
      break;
    default:
      describeGeneric(w, obj, kind.namespaced);
  }
  describeEvents(w, eventsAbout(obj, events), nowMs);
  return w.toString();
}
