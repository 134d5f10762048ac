/** What pods request and what nodes offer, in millicores, bytes and a pod count. */
import { DEFAULT_NODE_CAPACITY, parseCpu, parseMemory, parseQuantityValue } from '@bramble/api';
import type { Node, Pod } from '@bramble/api';

export interface Resources {
  cpuMillis: number;
  memoryBytes: number;
}

export interface NodeCapacity extends Resources {
  pods: number;
}

/** Kubernetes' non-zero defaults, used only for scoring so that pods without requests still spread. */
export const DEFAULT_CPU_REQUEST_MILLIS = 100;
export const DEFAULT_MEMORY_REQUEST_BYTES = 200 * 1024 * 1024;

/** The sum of the containers' requests (a request defaults to the limit). */
export function podRequests(pod: Pod): Resources {
  let cpuMillis = 0;
  let memoryBytes = 0;
  for (const c of pod.spec.containers ?? []) {
    const cpu = c.resources?.requests?.cpu ?? c.resources?.limits?.cpu;
    const memory = c.resources?.requests?.memory ?? c.resources?.limits?.memory;
    if (cpu !== undefined) cpuMillis += parseCpu(cpu);
    if (memory !== undefined) memoryBytes += parseMemory(memory);
  }
  return { cpuMillis, memoryBytes };
}

/** Like `podRequests`, but a container without a request counts as 100m / 200Mi (scoring only). */
export function podRequestsNonZero(pod: Pod): Resources {
  let cpuMillis = 0;
  let memoryBytes = 0;
  for (const c of pod.spec.containers ?? []) {
    const cpu = c.resources?.requests?.cpu ?? c.resources?.limits?.cpu;
    const memory = c.resources?.requests?.memory ?? c.resources?.limits?.memory;
    cpuMillis += cpu === undefined ? DEFAULT_CPU_REQUEST_MILLIS : parseCpu(cpu);
    memoryBytes += memory === undefined ? DEFAULT_MEMORY_REQUEST_BYTES : parseMemory(memory);
  }
  return { cpuMillis, memoryBytes };
}

/** What pods may use on `node`: allocatable, else capacity, else a Raspberry Pi 4 (4 cores, 4Gi, 110 pods). */
export function nodeAllocatable(node: Node): NodeCapacity {
  const pick = (name: 'cpu' | 'memory' | 'pods') =>
    node.status?.allocatable?.[name] ?? node.status?.capacity?.[name] ?? DEFAULT_NODE_CAPACITY[name];
  return {
    cpuMillis: parseCpu(pick('cpu')),
    memoryBytes: parseMemory(pick('memory')),
    pods: parseQuantityValue(pick('pods')),
  };
}
