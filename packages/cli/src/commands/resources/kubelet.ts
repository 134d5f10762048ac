// Finding a node's kubelet: its InternalIP (status.addresses) and the port it publishes in
// status.daemonEndpoints.kubeletEndpoint.Port, as `logs` and `top` need them.
import type { Node } from '@bramble/api';
import { CliError } from '../../errors.js';

/** `host:port` of the node's Kubelet service; a clear error when the node does not publish one. */
export function kubeletEndpoint(node: Node): string {
  const name = node.metadata.name ?? '';
  const addresses = node.status?.addresses ?? [];
  const ip = addresses.find((a) => a.type === 'InternalIP')?.address ?? addresses.find((a) => a.type === 'Hostname')?.address;
  if (!ip) throw new CliError(`node ${JSON.stringify(name)} has no InternalIP in status.addresses: cannot reach its kubelet`);
  const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port;
  if (!port) throw new CliError(`node ${JSON.stringify(name)} publishes no kubelet port (status.daemonEndpoints.kubeletEndpoint.Port): cannot reach its kubelet`);
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
