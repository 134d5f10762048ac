/** One attempt of a probe handler: exec, httpGet or tcpSocket. */
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { ContainerPortStatus, IntOrString, Probe } from '@bramble/api';
import { signalGroup } from './procfs.js';

export interface ProbeResult {
  ok: boolean;
  /** Why it failed (or a short note on success). */
  message: string;
}

export interface ProbeContext {
  nodeAddress: string;
  ports: ContainerPortStatus[];
  env: Record<string, string>;
  cwd: string;
  timeoutMs: number;
}

/** A declared port (by name or number) maps to its host port; an undeclared number is used as is. */
export function resolveProbePort(port: IntOrString, ports: ContainerPortStatus[]): number {
  if (typeof port === 'number') return ports.find((p) => p.containerPort === port)?.hostPort ?? port;
  if (/^\d+$/.test(port)) return resolveProbePort(Number(port), ports);
  const named = ports.find((p) => p.name === port);
  if (!named) throw new Error(`port ${JSON.stringify(port)} is not a declared port name of the container`);
  return named.hostPort;
}

export function runProbe(probe: Probe, ctx: ProbeContext): Promise<ProbeResult> {
  try {
    if (probe.exec) return execProbe(probe.exec.command, ctx);
    if (probe.httpGet) return httpProbe(probe.httpGet, ctx);
    if (probe.tcpSocket) return tcpProbe(resolveProbePort(probe.tcpSocket.port, ctx.ports), ctx);
    return Promise.resolve({ ok: false, message: 'probe has no handler (exec, httpGet or tcpSocket)' });
  } catch (err) {
    return Promise.resolve({ ok: false, message: (err as Error).message });
  }
}

const MAX_OUTPUT_BYTES = 10 * 1024;

function execProbe(command: string[], ctx: ProbeContext): Promise<ProbeResult> {
  if (command.length === 0) return Promise.resolve({ ok: false, message: 'exec probe: empty command' });
  return new Promise((resolve) => {
    // Own process group, so a timed-out probe is killed with everything it started.
    const child = spawn(command[0], command.slice(1), { env: ctx.env, cwd: ctx.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      if (output.length < MAX_OUTPUT_BYTES) output += chunk.toString('utf8');
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    let settled = false;
    const finish = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const timer = setTimeout(() => {
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      finish({ ok: false, message: `command ${JSON.stringify(command)} timed out after ${ctx.timeoutMs} ms` });
    }, ctx.timeoutMs);
    child.on('error', (err) => finish({ ok: false, message: `command ${JSON.stringify(command)} failed to start: ${err.message}` }));
    child.on('close', (code, signal) => {
      const out = output.trim().slice(0, 200);
      if (code === 0) finish({ ok: true, message: out });
      else finish({ ok: false, message: `command ${JSON.stringify(command)} exited with ${code ?? signal}${out ? `: ${out}` : ''}` });
    });
  });
}

function httpProbe(action: NonNullable<Probe['httpGet']>, ctx: ProbeContext): Promise<ProbeResult> {
  const port = resolveProbePort(action.port, ctx.ports);
  const https = action.scheme === 'HTTPS';
  const path = action.path ?? '/';
  const url = `${https ? 'https' : 'http'}://${ctx.nodeAddress}:${port}${path}`;
  const headers: Record<string, string> = { 'user-agent': 'bramble-probe/1.0', accept: '*/*' };
  for (const h of action.httpHeaders ?? []) headers[h.name.toLowerCase()] = h.value;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: ProbeResult) => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };
    const opts = { host: ctx.nodeAddress, port, path, method: 'GET', headers, timeout: ctx.timeoutMs, agent: false as const, rejectUnauthorized: false };
    const req = (https ? httpsRequest : httpRequest)(opts, (res) => {
      const code = res.statusCode ?? 0;
      res.resume();
      // As in Kubernetes: 200 <= code < 400 is a success.
      if (code >= 200 && code < 400) finish({ ok: true, message: `HTTP ${code}` });
      else finish({ ok: false, message: `HTTP probe failed with statuscode: ${code} (GET ${url})` });
    });
    req.on('timeout', () => {
      req.destroy();
      finish({ ok: false, message: `Get "${url}": timed out after ${ctx.timeoutMs} ms` });
    });
    req.on('error', (err) => finish({ ok: false, message: `Get "${url}": ${err.message}` }));
    req.end();
  });
}

function tcpProbe(port: number, ctx: ProbeContext): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: ctx.nodeAddress, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, message: `dial tcp ${ctx.nodeAddress}:${port}: timed out after ${ctx.timeoutMs} ms` });
    }, ctx.timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok: true, message: `connected to ${ctx.nodeAddress}:${port}` });
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, message: `dial tcp ${ctx.nodeAddress}:${port}: ${err.message}` });
    });
  });
}
