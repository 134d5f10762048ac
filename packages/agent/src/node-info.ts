// The Node object an agent registers: name, labels, capacity, addresses, system info, Kubelet port.
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import type { Node } from '@bramble/api';

/** `process.arch` in Kubernetes' GOARCH spelling. */
export function kubeArch(arch: string = process.arch): string {
  switch (arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    default:
      return arch; // arm64, arm, ppc64, s390x, riscv64 are spelled the same
  }
}

export function agentVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return `v${pkg.version ?? '0.0.0'}`;
  } catch {
    return 'v0.0.0';
  }
}

function readTrimmed(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim() || undefined;
  } catch {
    return undefined; // not every OS has it; the field is informational
  }
}

function osImage(): string {
  const text = readTrimmed('/etc/os-release');
  const pretty = text?.match(/^PRETTY_NAME="?([^"\n]*)"?$/m)?.[1];
  return pretty ?? `${os.type()} ${os.release()}`;
}

export interface NodeDescription {
  name: string;
  address: string;
  labels: Record<string, string>;
  cpu: string;
  memory: string;
  maxPods: number;
  kubeletPort: number;
}

export function buildNode(d: NodeDescription): Node {
  const arch = kubeArch();
  const capacity = { cpu: d.cpu, memory: d.memory, pods: String(d.maxPods) };
  const machineID = readTrimmed('/etc/machine-id');
  const bootID = readTrimmed('/proc/sys/kernel/random/boot_id');
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: d.name,
      labels: {
        'kubernetes.io/hostname': d.name,
        'kubernetes.io/os': process.platform,
        'kubernetes.io/arch': arch,
        ...d.labels,
      },
    },
    status: {
      capacity,
      allocatable: { ...capacity },
      addresses: [
        { type: 'InternalIP', address: d.address },
        { type: 'Hostname', address: d.name },
      ],
      nodeInfo: {
        ...(machineID ? { machineID } : {}),
        ...(bootID ? { bootID } : {}),
        kernelVersion: os.release(),
        osImage: osImage(),
        containerRuntimeVersion: `process://node-${process.version}`,
        kubeletVersion: agentVersion(),
        operatingSystem: process.platform,
        architecture: arch,
      },
      daemonEndpoints: { kubeletEndpoint: { Port: d.kubeletPort } },
    },
  };
}
