// The agent's Prometheus metrics, hand-written (text format 0.0.4) to keep the agent small.

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** A counter per label value (e.g. per master). */
export class LabeledCounter {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, readonly label: string) {}
  inc(value: string, by = 1): void {
    this.values.set(value, (this.values.get(value) ?? 0) + by);
  }
  get(value: string): number {
    return this.values.get(value) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [v, n] of this.values) lines.push(`${this.name}${labelText({ [this.label]: v })} ${n}`);
    return lines.join('\n');
  }
}

/** A gauge per label value (e.g. active proxied connections per service); zeroes are dropped. */
export class LabeledGauge {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, readonly label: string) {}
  add(value: string, by: number): void {
    const next = (this.values.get(value) ?? 0) + by;
    if (next === 0) this.values.delete(value);
    else this.values.set(value, next);
  }
  get(value: string): number {
    return this.values.get(value) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const [v, n] of this.values) lines.push(`${this.name}${labelText({ [this.label]: v })} ${n}`);
    return lines.join('\n');
  }
}

export class Counter {
  value = 0;
  constructor(readonly name: string, readonly help: string) {}
  inc(by = 1): void {
    this.value += by;
  }
  render(): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n${this.name} ${this.value}`;
  }
}

/** Cumulative buckets in seconds, like prom-client's histogram. */
export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly help: string, readonly bucketsSeconds: number[]) {
    this.counts = bucketsSeconds.map(() => 0);
  }
  observe(seconds: number): void {
    this.sum += seconds;
    this.count++;
    this.bucketsSeconds.forEach((le, i) => {
      if (seconds <= le) this.counts[i]++;
    });
  }
  get observations(): number {
    return this.count;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.bucketsSeconds.forEach((le, i) => lines.push(`${this.name}_bucket{le="${le}"} ${this.counts[i]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines.join('\n');
  }
}

const LATENCY_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class AgentMetrics {
  readonly heartbeats = new LabeledCounter('bramble_agent_heartbeats_total', 'Heartbeats sent, per master.', 'master');
  readonly heartbeatFailures = new LabeledCounter('bramble_agent_heartbeat_failures_total', 'Heartbeats that failed, per master.', 'master');
  readonly podStartLatency = new Histogram(
    'bramble_agent_pod_start_seconds',
    'From the agent first seeing a pod to its Running status written.',
    LATENCY_BUCKETS_SECONDS,
  );
  readonly syncLatency = new Histogram('bramble_agent_pod_sync_seconds', 'From a pod change seen to runtime.syncPod called (env resolution included).', LATENCY_BUCKETS_SECONDS);
  readonly statusWrites = new Counter('bramble_agent_pod_status_writes_total', 'pod.status updates written.');
  readonly statusConflicts = new Counter('bramble_agent_pod_status_conflicts_total', 'pod.status updates retried after a Conflict.');
  readonly eventsDropped = new Counter('bramble_agent_events_dropped_total', 'Events not recorded (too many in flight, or the masters refused them).');
  // Service proxy (./proxy), per service `namespace/name`.
  readonly proxyConnections = new LabeledCounter('bramble_proxy_connections_total', 'Client connections accepted by the service proxy.', 'service');
  readonly proxyActiveConnections = new LabeledGauge('bramble_proxy_active_connections', 'Client connections open through the service proxy.', 'service');
  readonly proxyConnectFailures = new LabeledCounter('bramble_proxy_connect_failures_total', 'Connects to an endpoint that failed (refused, timed out); the next endpoint is tried.', 'service');
  readonly proxyRejected = new LabeledCounter('bramble_proxy_connections_rejected_total', 'Client connections closed because no endpoint could be reached.', 'service');

  /** Rendered with gauges read at scrape time. */
  render(gauges: { podsRunning: number; podsKnown: number }): string {
    const mem = process.memoryUsage();
    return [
      '# HELP bramble_agent_pods_running Pods whose phase is Running on this node.',
      '# TYPE bramble_agent_pods_running gauge',
      `bramble_agent_pods_running ${gauges.podsRunning}`,
      '# HELP bramble_agent_pods Pods the runtime holds on this node.',
      '# TYPE bramble_agent_pods gauge',
      `bramble_agent_pods ${gauges.podsKnown}`,
      this.heartbeats.render(),
      this.heartbeatFailures.render(),
      this.podStartLatency.render(),
      this.syncLatency.render(),
      this.statusWrites.render(),
      this.statusConflicts.render(),
      this.eventsDropped.render(),
      this.proxyConnections.render(),
      this.proxyActiveConnections.render(),
      this.proxyConnectFailures.render(),
      this.proxyRejected.render(),
      '# HELP process_resident_memory_bytes Resident memory size in bytes.',
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${mem.rss}`,
      '# HELP nodejs_heap_used_bytes V8 heap in use.',
      '# TYPE nodejs_heap_used_bytes gauge',
      `nodejs_heap_used_bytes ${mem.heapUsed}`,
      '',
    ].join('\n');
  }
}
