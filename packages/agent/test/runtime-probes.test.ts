import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveProbePort, runProbe } from '../src/runtime/probe-actions.js';
import { makePod, nodeCommand, pidOf, RuntimeHarness, waitForStatus } from './fixtures/runtime-harness.js';

describe('probe port resolution', () => {
  const ports = [
    { name: 'http', containerPort: 8080, hostPort: 41000 },
    { containerPort: 9090, hostPort: 41001 },
  ];
  it('maps declared ports to host ports and keeps undeclared numbers', () => {
    expect(resolveProbePort('http', ports)).toBe(41000);
    expect(resolveProbePort(9090, ports)).toBe(41001);
    expect(resolveProbePort('9090', ports)).toBe(41001);
    expect(resolveProbePort(1234, ports)).toBe(1234);
    expect(() => resolveProbePort('grpc', ports)).toThrow(/"grpc" is not a declared port name/);
  });
  it('a probe without a handler fails with a message', async () => {
    const r = await runProbe({}, { nodeAddress: '127.0.0.1', ports: [], env: {}, cwd: '/', timeoutMs: 1000 });
    expect(r).toEqual({ ok: false, message: expect.stringMatching(/no handler/) });
  });
});

describe('liveness and readiness probes (real processes)', () => {
  let h: RuntimeHarness;
  beforeEach(async () => {
    h = await RuntimeHarness.create();
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it('a failing httpGet liveness probe restarts the container with Unhealthy and Killing events', async () => {
    const rt = h.runtime();
    const unhealthy = join(h.dir, 'unhealthy');
    const pod = makePod('live', [
      {
        name: 'web',
        command: nodeCommand('server.mjs'),
        env: [{ name: 'UNHEALTHY_FILE', value: unhealthy }],
        ports: [{ name: 'http', containerPort: 8080 }],
        livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1, failureThreshold: 2, timeoutSeconds: 1 },
      },
    ]);
    const uid = pod.metadata.uid!;
    rt.syncPod({ pod, resolvedEnv: { web: [{ name: 'UNHEALTHY_FILE', value: unhealthy }] } });
    const st = await waitForStatus(rt, uid, 'running', (s) => s.phase === 'Running' && s.containerStatuses[0].ready);
    const pid1 = pidOf(st);
    await writeFile(unhealthy, 'x');
    const after = await waitForStatus(rt, uid, 'restarted by liveness', (s) => s.containerStatuses[0].restartCount === 1 && !!s.containerStatuses[0].state?.running);
    expect(pidOf(after)).not.toBe(pid1);
    // SIGTERM: the server exits 0 on it, so lastState says Completed.
    expect(after.containerStatuses[0].lastState?.terminated?.exitCode).toBe(0);
    // failureThreshold 2: two failures in a row (the first may be a connection refused while the server was still starting).
    const liveness = h.eventsFor(uid, 'Unhealthy').filter((e) => e.message.startsWith('Liveness probe failed: '));
    expect(liveness.length).toBeGreaterThanOrEqual(2);
    const unhealthy500 = liveness.filter((e) => /^Liveness probe failed: HTTP probe failed with statuscode: 500/.test(e.message));
    expect(unhealthy500.length).toBeGreaterThanOrEqual(1);
    expect(unhealthy500[0]).toMatchObject({ type: 'Warning', fieldPath: 'spec.containers{web}' });
    expect(h.eventsFor(uid, 'Killing').map((e) => e.message)).toContain('Container web failed liveness probe, will be restarted');
    await rm(unhealthy);
  });

  it('an httpGet readiness probe toggles container readiness and the Ready / ContainersReady conditions', async () => {
    const rt = h.runtime();
    const readyFile = join(h.dir, 'ready');
    const pod = makePod('ready', [
      {
        name: 'web',
        command: nodeCommand('server.mjs'),
        ports: [{ name: 'http', containerPort: 8080 }],
        readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1, failureThreshold: 1, successThreshold: 1 },
      },
    ]);
    const uid = pod.metadata.uid!;
    rt.syncPod({ pod, resolvedEnv: { web: [{ name: 'READY_FILE', value: readyFile }] } });
    const cond = (s: { conditions: Array<{ type: string; status: string }> }, t: string) => s.conditions.find((c) => c.type === t)?.status;
    let st = await waitForStatus(rt, uid, 'running, not ready', (s) => s.phase === 'Running' && h.eventsFor(uid, 'Unhealthy').length > 0);
    expect(st.containerStatuses[0].ready).toBe(false);
    expect(cond(st, 'Ready')).toBe('False');
    expect(st.conditions.find((c) => c.type === 'Ready')?.message).toBe('containers with unready status: [web]');
    await writeFile(readyFile, 'x');
    st = await waitForStatus(rt, uid, 'ready', (s) => s.containerStatuses[0].ready);
    expect(cond(st, 'Ready')).toBe('True');
    expect(cond(st, 'ContainersReady')).toBe('True');
    const readySince = st.conditions.find((c) => c.type === 'Ready')!.lastTransitionTime;
    expect(rt.status(uid)!.conditions.find((c) => c.type === 'Ready')!.lastTransitionTime).toBe(readySince);
    await rm(readyFile);
    st = await waitForStatus(rt, uid, 'not ready again', (s) => !s.containerStatuses[0].ready);
    expect(cond(st, 'Ready')).toBe('False');
    expect(st.containerStatuses[0].restartCount).toBe(0); // readiness never restarts
  });

  it('tcpSocket and exec probes: a passing pair keeps the pod ready, a failing exec liveness probe restarts', async () => {
    const rt = h.runtime();
    const marker = join(h.dir, 'alive');
    await writeFile(marker, 'x');
    const pod = makePod('tcp-exec', [
      {
        name: 'web',
        command: nodeCommand('server.mjs'),
        ports: [{ name: 'http', containerPort: 8080 }, { name: 'admin', containerPort: 9000 }],
        readinessProbe: { tcpSocket: { port: 'admin' }, periodSeconds: 1 },
        // Runs in the container's environment: MARKER comes from the pod's env.
        livenessProbe: { exec: { command: ['sh', '-c', 'test -f "$MARKER"'] }, periodSeconds: 1, failureThreshold: 1 },
      },
    ]);
    const uid = pod.metadata.uid!;
    rt.syncPod({ pod, resolvedEnv: { web: [{ name: 'MARKER', value: marker }] } });
    const st = await waitForStatus(rt, uid, 'ready via tcp', (s) => s.containerStatuses[0].ready);
    expect(st.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    await rm(marker);
    const after = await waitForStatus(rt, uid, 'restarted by exec liveness', (s) => s.containerStatuses[0].restartCount === 1);
    expect(h.eventsFor(uid, 'Unhealthy').map((e) => e.message)).toContainEqual(expect.stringMatching(/^Liveness probe failed: command .* exited with 1/));
    expect(after.containerStatuses[0].lastState?.terminated).toBeTruthy();
  });

  it('a tcpSocket readiness probe against a closed port keeps the container unready', async () => {
    const rt = h.runtime();
    const pod = makePod('tcp-closed', [
      {
        name: 'c',
        command: nodeCommand('chatter.mjs'),
        ports: [{ containerPort: 7000 }],
        readinessProbe: { tcpSocket: { port: 7000 }, periodSeconds: 1, failureThreshold: 1 },
      },
    ]);
    const uid = pod.metadata.uid!;
    rt.syncPod({ pod, resolvedEnv: {} });
    await waitForStatus(rt, uid, 'a failed tcp probe', () => h.eventsFor(uid, 'Unhealthy').length > 0);
    expect(h.eventsFor(uid, 'Unhealthy')[0].message).toMatch(/^Readiness probe failed: dial tcp 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    expect(rt.status(uid)!.containerStatuses[0].ready).toBe(false);
    expect(rt.status(uid)!.phase).toBe('Running');
  });
});
