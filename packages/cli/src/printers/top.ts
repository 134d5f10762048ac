// `top nodes` and `top pods`: live usage from each node's kubelet, shown as kubectl
// shows metrics-server data: CPU in millicores (`250m`), memory in MiB (`120Mi`),
// percentages of the node's allocatable.
import { parseCpu, parseMemory, type Node } from '@bramble/api';
import type { KubeletPodStats, KubeletStats } from '@bramble/client';
import { cell, columnWidths, formatRow } from '../output.js';

const MIB = 1024 * 1024;

/** Like formatTable, but headers keep their case: kubectl prints `CPU(cores)`. */
function formatTable(headers: string[], rows: string[][]): string {
  const cells = rows.map((r) => r.map(cell));
  const widths = columnWidths(headers, cells);
  return [headers, ...cells].map((r) => formatRow(r, widths) + '\n').join('');
}

export function cpuCell(millicores: number): string {
  return `${Math.round(millicores)}m`;
}

export function memoryCell(bytes: number): string {
  return `${Math.floor(bytes / MIB)}Mi`;
}

function percentCell(part: number, whole: number | undefined): string {
  if (!whole || whole <= 0) return '<unknown>';
  return `${Math.round((part / whole) * 100)}%`;
}

/** A node with its usage, or without when its kubelet could not be asked. */
export interface NodeUsage {
  node: Node;
  stats?: KubeletStats;
}

export function topNodesTable(rows: NodeUsage[]): string {
  const sorted = [...rows].sort((a, b) => ((a.node.metadata.name ?? '') < (b.node.metadata.name ?? '') ? -1 : 1));
  return formatTable(
    ['NAME', 'CPU(cores)', 'CPU%', 'MEMORY(bytes)', 'MEMORY%'],
    sorted.map(({ node, stats }) => {
      const name = node.metadata.name ?? '';
      if (!stats) return [name, '<unknown>', '<unknown>', '<unknown>', '<unknown>'];
      const alloc = node.status?.allocatable ?? node.status?.capacity ?? {};
      const cpu = alloc.cpu !== undefined ? parseCpu(alloc.cpu) : undefined;
      const memory = alloc.memory !== undefined ? parseMemory(alloc.memory) : undefined;
      return [name, cpuCell(stats.cpuMillicores), percentCell(stats.cpuMillicores, cpu), memoryCell(stats.memoryBytes), percentCell(stats.memoryBytes, memory)];
    }),
  );
}

export interface TopPodsOptions {
  withNamespace?: boolean;
  containers?: boolean;
}

function byNamespaceName(a: KubeletPodStats, b: KubeletPodStats): number {
  const ka = `${a.namespace}/${a.name}`;
  const kb = `${b.namespace}/${b.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export function topPodsTable(pods: KubeletPodStats[], opts: TopPodsOptions = {}): string {
  const ns = (p: KubeletPodStats): string[] => (opts.withNamespace ? [p.namespace] : []);
  const sorted = [...pods].sort(byNamespaceName);
  if (opts.containers) {
    return formatTable(
      [...(opts.withNamespace ? ['NAMESPACE'] : []), 'POD', 'NAME', 'CPU(cores)', 'MEMORY(bytes)'],
      sorted.flatMap((p) => p.containers.map((c) => [...ns(p), p.name, c.name, cpuCell(c.cpuMillicores), memoryCell(c.memoryBytes)])),
    );
  }
  return formatTable(
    [...(opts.withNamespace ? ['NAMESPACE'] : []), 'NAME', 'CPU(cores)', 'MEMORY(bytes)'],
    sorted.map((p) => {
      const cpu = p.containers.reduce((s, c) => s + c.cpuMillicores, 0);
      const mem = p.containers.reduce((s, c) => s + c.memoryBytes, 0);
      return [...ns(p), p.name, cpuCell(cpu), memoryCell(mem)];
    }),
  );
}
