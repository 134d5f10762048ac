import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expandVars } from '../src/runtime/expand.js';
import { buildLaunch } from '../src/runtime/env.js';
import { waitFor } from '@bramble/testkit';
import { makePod, nodeCommand, RuntimeHarness, getJson, waitForStatus } from './fixtures/runtime-harness.js';

describe('$(VAR) expansion (Kubernetes rules)', () => {
  const vars: Record<string, string> = { A: 'alpha', B: 'beta', EMPTY: '' };
  const expand = (s: string) => expandVars(s, (n) => vars[n]);

  it('replaces defined references and keeps unknown ones literally', () => {
    expect(expand('$(A)-$(B)')).toBe('alpha-beta');
    expect(expand('x$(EMPTY)y')).toBe('xy');
    expect(expand('$(NOPE)/$(A)')).toBe('$(NOPE)/alpha');
  });

  it('treats $$ as an escaped $', () => {
    expect(expand('$$(A)')).toBe('$(A)');
    expect(expand('$$$(A)')).toBe('$alpha');
    expect(expand('cost: $$5')).toBe('cost: $5');
  });

  it('keeps a lone $, a $ before other text and an unclosed reference', () => {
    expect(expand('$')).toBe('$');
    expect(expand('a$')).toBe('a$');
    expect(expand('$A $(')).toBe('$A $(');
    expect(expand('$(A')).toBe('$(A');
    expect(expand('$()')).toBe('$()');
  });

  it('expands env values against earlier variables only, command and args against the final env', () => {
    const launch = buildLaunch({
      container: {
        name: 'c',
        command: ['run', '$(GREETING)'],
        args: ['--port=$(PORT)', '$(LATER)', '$$(PORT)'],
        env: [
          { name: 'GREETING', value: 'hi $(LATER) on $(POD_IP):$(PORT_HTTP)' },
          { name: 'LATER', value: 'later' },
          { name: 'FROM_CM', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } },
          { name: 'PORT', value: '1' },
        ],
        ports: [{ name: 'http', containerPort: 80 }],
      },
      resolvedEnv: [
        { name: 'GREETING', value: 'hi $(LATER) on $(POD_IP):$(PORT_HTTP)' },
        { name: 'LATER', value: 'later' },
        { name: 'FROM_CM', value: '$(LATER) stays' },
        { name: 'PORT', value: '1' },
      ],
      podIp: '127.0.0.21',
      podUid: 'u1',
      agentDataDir: '/d',
      ports: [{ name: 'http', containerPort: 80, hostPort: 40001, protocol: 'TCP' }],
      hostPath: '/usr/bin',
    });
    expect(launch.env.GREETING).toBe('hi $(LATER) on 127.0.0.21:40001');
    expect(launch.env.FROM_CM).toBe('$(LATER) stays');
    // The runtime's own variables cannot be overridden: they describe where the pod must bind.
    expect(launch.env.PORT).toBe('40001');
    expect(launch.env.PATH).toBe('/usr/bin');
    expect(launch.env.BRAMBLE_POD_UID).toBe('u1');
    expect(launch.argv).toEqual(['run', 'hi $(LATER) on 127.0.0.21:40001', '--port=40001', 'later', '$(PORT)']);
  });

  it('rejects a container without a command, naming it', () => {
    expect(() => buildLaunch({ container: { name: 'web' }, resolvedEnv: [], podIp: 'x', podUid: 'u', agentDataDir: '/d', ports: [], hostPath: undefined })).toThrow(
      /container web: command is required/,
    );
  });
});

describe('container environment and ports (real processes)', () => {
  let h: RuntimeHarness;
  beforeEach(async () => {
    h = await RuntimeHarness.create();
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it('hands in POD_IP, PORT and PORT_<NAME>; the server is reachable on nodeAddress:hostPort; ports differ across pods', async () => {
    const nodeAddress = '127.0.0.21';
    const rt = h.runtime({ nodeAddress });
    const container = {
      name: 'web',
      command: nodeCommand('server.mjs'),
      args: ['--greeting=$(GREETING)', '$(MISSING)', '$$(GREETING)'],
      env: [{ name: 'GREETING', value: 'hello-$(POD_IP)' }],
      ports: [
        { name: 'http', containerPort: 8080 },
        { name: 'admin-api', containerPort: 9090 },
      ],
    };
    const pods = [makePod('a', [container]), makePod('b', [container])];
    for (const pod of pods) rt.syncPod({ pod, resolvedEnv: { web: [{ name: 'GREETING', value: 'hello-$(POD_IP)' }] } });

    const hostPorts: number[] = [];
    for (const pod of pods) {
      const st = await waitForStatus(rt, pod.metadata.uid!, 'running and ready', (s) => s.phase === 'Running' && s.containerStatuses[0].ready);
      const ports = st.containerStatuses[0].ports!;
      expect(ports.map((p) => [p.name, p.containerPort])).toEqual([
        ['http', 8080],
        ['admin-api', 9090],
      ]);
      hostPorts.push(...ports.map((p) => p.hostPort));
      const url = `http://${nodeAddress}:${ports[0].hostPort}/info`;
      const info = await waitForInfo(url);
      expect(info.env.POD_IP).toBe(nodeAddress);
      expect(info.env.PORT).toBe(String(ports[0].hostPort));
      expect(info.env.PORT_HTTP).toBe(String(ports[0].hostPort));
      expect(info.env.PORT_ADMIN_API).toBe(String(ports[1].hostPort));
      expect(info.env.GREETING).toBe(`hello-${nodeAddress}`);
      expect(info.env.PATH).toBe(process.env.PATH);
      expect(info.env.BRAMBLE_POD_UID).toBe(pod.metadata.uid);
      expect(info.env.HOME).toBeUndefined(); // nothing else of the agent's environment leaks in
      expect(info.argv).toEqual([`--greeting=hello-${nodeAddress}`, '$(MISSING)', '$(GREETING)']);
      const conds = Object.fromEntries(st.conditions.map((c) => [c.type, c.status]));
      expect(conds).toEqual({ Initialized: 'True', ContainersReady: 'True', Ready: 'True' });
    }
    expect(new Set(hostPorts).size).toBe(4);
    const started = h.eventsFor(pods[0].metadata.uid!).map((e) => e.reason);
    expect(started).toEqual(['Created', 'Started']);
  });

  it('syncPod is idempotent: calling it again never starts a second process', async () => {
    const rt = h.runtime();
    const pod = makePod('once', [{ name: 'c', command: nodeCommand('chatter.mjs'), ports: [{ containerPort: 80 }] }]);
    for (let i = 0; i < 5; i++) rt.syncPod({ pod, resolvedEnv: {} });
    const st = await waitForStatus(rt, pod.metadata.uid!, 'running', (s) => s.phase === 'Running');
    for (let i = 0; i < 5; i++) rt.syncPod({ pod, resolvedEnv: {} });
    await new Promise((r) => setImmediate(r));
    expect(rt.status(pod.metadata.uid!)!.containerStatuses[0].containerID).toBe(st.containerStatuses[0].containerID);
    expect(h.eventsFor(pod.metadata.uid!, 'Started')).toHaveLength(1);
    expect(rt.knownPods()).toEqual([pod.metadata.uid]);
  });

  it('rejects a pod without containers or uid, changing nothing', () => {
    const rt = h.runtime();
    const pod = makePod('bad', []);
    expect(() => rt.syncPod({ pod, resolvedEnv: {} })).toThrow(/spec.containers must not be empty/);
    const noUid = makePod('bad2', [{ name: 'c', command: ['true'] }]);
    delete noUid.metadata.uid;
    expect(() => rt.syncPod({ pod: noUid, resolvedEnv: {} })).toThrow(/metadata.uid/);
    expect(rt.knownPods()).toEqual([]);
  });
});

function waitForInfo(url: string): Promise<any> {
  return waitFor(`GET ${url}`, () => getJson(url), 10_000, 25);
}
