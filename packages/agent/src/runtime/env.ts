/**
 * A container's environment and command line. The runtime adds (and always wins on):
 *  - POD_IP: the node's address, which the pod must bind;
 *  - PORT: the host port of the container's first declared port;
 *  - PORT_<NAME>: the host port of each named port (upper-cased, `-` -> `_`);
 *  - BRAMBLE_AGENT_DATA_DIR and BRAMBLE_POD_UID: markers that let tooling find an agent's
 *    pod processes even after the agent is gone.
 * PATH comes from the agent's environment unless the pod sets it. Nothing else of the
 * agent's environment leaks into pods.
 */
import type { Container, ContainerPortStatus } from '@bramble/api';
import { expandVars } from './expand.js';

export const AGENT_MARKER_ENV = 'BRAMBLE_AGENT_DATA_DIR';
export const POD_UID_ENV = 'BRAMBLE_POD_UID';

export interface ContainerEnvInput {
  container: Container;
  /** What the agent resolved from env/envFrom, in order. */
  resolvedEnv: Array<{ name: string; value: string }>;
  podIp: string;
  podUid: string;
  agentDataDir: string;
  ports: ContainerPortStatus[];
  hostPath: string | undefined;
}

export interface ContainerLaunch {
  env: Record<string, string>;
  /** command + args, `$(VAR)`-expanded. */
  argv: string[];
}

export function portEnvName(portName: string): string {
  return `PORT_${portName.toUpperCase().replace(/-/g, '_')}`;
}

/** The variables the runtime owns, in the order they are defined. */
export function runtimeVars(input: Pick<ContainerEnvInput, 'podIp' | 'podUid' | 'agentDataDir' | 'ports'>): Map<string, string> {
  const vars = new Map<string, string>();
  vars.set('POD_IP', input.podIp);
  if (input.ports.length > 0) vars.set('PORT', String(input.ports[0].hostPort));
  for (const p of input.ports) if (p.name) vars.set(portEnvName(p.name), String(p.hostPort));
  vars.set(AGENT_MARKER_ENV, input.agentDataDir);
  vars.set(POD_UID_ENV, input.podUid);
  return vars;
}

/**
 * Kubernetes expands `$(VAR)` only in literal `env[].value`s (against the variables defined
 * before them) and in command/args (against the final environment). resolvedEnv has lost
 * where a value came from, so a value is expanded when the container spec declares that
 * name with that literal value.
 */
export function buildLaunch(input: ContainerEnvInput): ContainerLaunch {
  const { container } = input;
  if (!container.command || container.command.length === 0) {
    throw new Error(`container ${container.name}: command is required (Bramble runs processes, not images)`);
  }
  const own = runtimeVars(input);
  const env = new Map<string, string>();
  if (input.hostPath !== undefined) env.set('PATH', input.hostPath);
  for (const [k, v] of own) env.set(k, v);
  const literal = new Map<string, Set<string>>();
  for (const e of container.env ?? []) {
    if (e.value !== undefined && !e.valueFrom) {
      if (!literal.has(e.name)) literal.set(e.name, new Set());
      literal.get(e.name)!.add(e.value);
    }
  }
  for (const { name, value } of input.resolvedEnv) {
    const expand = literal.get(name)?.has(value) ?? false;
    env.set(name, expand ? expandVars(value, (n) => env.get(n)) : value);
  }
  for (const [k, v] of own) env.set(k, v);
  const lookup = (n: string) => env.get(n);
  const argv = [...container.command, ...(container.args ?? [])].map((a) => expandVars(a, lookup));
  return { env: Object.fromEntries(env), argv };
}
