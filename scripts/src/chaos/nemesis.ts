// Runs a fault plan against a live cluster: kill -9, SIGSTOP/SIGCONT, SIGTERM + start, and
// network faults through the link proxies. Keeps a minority impaired at most, records a
// timeline, and heals everything on stop().
import { seededRandom } from '@bramble/raft';
import type { ProcessCluster } from '@bramble/testkit';
import { maxImpaired, settleMs, type PlannedFault } from './plan.js';
import { describeMode, PASS, type LinkMode, type ProxyMesh } from './proxy.js';
import { errorText, sleep, type Conns } from './rpc.js';

export interface FaultRecord {
  id: number;
  kind: PlannedFault['kind'];
  variant?: string;
  /** Members the fault impairs. */
  targets: string[];
  plannedAtMs: number;
  startedAtMs: number;
  healedAtMs?: number;
  /** What was done, in words: "kill -9 m2 (leader)", "isolate m1, blackhole(drop)". */
  description: string;
  error?: string;
}

export interface TimelineEvent {
  atMs: number;
  type: 'inject' | 'heal' | 'note';
  faultId?: number;
  text: string;
}

/** A master that exited without the nemesis stopping it. */
export interface Crash {
  atMs: number;
  member: string;
  exit: string;
  logTail: string;
}

export interface NemesisContext {
  cluster: ProcessCluster;
  mesh: ProxyMesh;
  conns: Conns;
  /** Milliseconds since the start of the workload. */
  now(): number;
  log(message: string): void;
}

interface Targets {
  impaired: string[];
  leader: string | undefined;
}

export class Nemesis {
  readonly records: FaultRecord[] = [];
  readonly events: TimelineEvent[] = [];
  /** Members currently impaired, with the fault that impairs them. */
  readonly impaired = new Map<string, number>();
  /** Bumped every time a member's process is stopped: responses are compared within one incarnation. */
  readonly incarnation = new Map<string, number>();
  readonly crashes: Crash[] = [];
  private readonly paused = new Set<string>();
  /** Members the nemesis is stopping and starting itself: their exits are expected. */
  private readonly stoppedByUs = new Set<string>();
  private watchdog: NodeJS.Timeout | undefined;
  /** Slots of faults dispatched but not yet aimed (their targets are being resolved). */
  private reserved = 0;
  /** Target resolution runs one fault at a time, so two faults never pick the same member. */
  private resolving: Promise<unknown> = Promise.resolve();
  private readonly running = new Set<Promise<void>>();
  private stopping = false;
  private wakeStop!: () => void;
  private readonly stopped = new Promise<void>((resolve) => (this.wakeStop = resolve));
  private readonly capacity: number;

  constructor(private readonly ctx: NemesisContext) {
    this.capacity = maxImpaired(ctx.cluster.members.size);
    for (const name of ctx.cluster.members.keys()) this.incarnation.set(name, 0);
  }

  /** Counts of injected faults by kind. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.records) if (r.description) out[r.kind] = (out[r.kind] ?? 0) + 1;
    return out;
  }

  /** Inject the plan's faults until `endMs` (or stop()). */
  async run(plan: PlannedFault[], endMs: number): Promise<void> {
    this.watchdog = setInterval(() => this.checkProcesses(), 250);
    for (const fault of plan) {
      if (!(await this.waitUntil(Math.min(fault.atMs, endMs)))) break;
      while (!this.stopping && this.ctx.now() < endMs && this.impairedCount() + fault.width > this.capacity) await this.pauseFor(50);
      if (this.stopping || this.ctx.now() >= endMs) break;
      const task = this.execute(fault).catch((err) => {
        this.note(`fault ${fault.id} (${fault.kind}) failed: ${errorText(err)}`);
      });
      this.running.add(task);
      void task.finally(() => this.running.delete(task));
    }
    await this.waitUntil(endMs);
  }

  /** Stop injecting, cut every fault short and heal it; resolves when all are healed. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeStop();
    while (this.running.size > 0) await Promise.all([...this.running]);
    clearInterval(this.watchdog);
    this.checkProcesses();
  }

  /** A master that is gone although no fault stopped it crashed: record it, start it again. */
  private checkProcesses(): void {
    const running = new Set(this.ctx.cluster.running());
    for (const [name, m] of this.ctx.cluster.members) {
      if (running.has(name) || this.stoppedByUs.has(name)) continue;
      const exit = m.proc ? `exit code ${m.proc.exitCode}, signal ${m.proc.signalCode}` : 'never started';
      this.crashes.push({ atMs: this.ctx.now(), member: name, exit, logTail: this.ctx.cluster.logTail(name, 20) });
      this.note(`${name} exited on its own (${exit}); starting it again`);
      this.bump(name);
      this.stoppedByUs.add(name);
      // It counts against the minority budget until it is back (fault id 0: no fault).
      if (!this.impaired.has(name)) this.impaired.set(name, 0);
      void this.startAgain(name)
        .catch((err) => this.note(`starting ${name} again failed: ${errorText(err)}`))
        .finally(() => {
          this.stoppedByUs.delete(name);
          if (this.impaired.get(name) === 0) this.impaired.delete(name);
        });
    }
  }

  private impairedCount(): number {
    return this.impaired.size + this.reserved;
  }

  private note(text: string): void {
    this.events.push({ atMs: this.ctx.now(), type: 'note', text });
    this.ctx.log(text);
  }

  /** Sleep until `atMs` on the workload clock; false if stopped first. */
  private async waitUntil(atMs: number): Promise<boolean> {
    const waitMs = atMs - this.ctx.now();
    if (waitMs > 0) await this.pauseFor(waitMs);
    return !this.stopping;
  }

  /** Sleep `ms`, or less if stop() is called. */
  private async pauseFor(ms: number): Promise<void> {
    if (ms <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise<void>((r) => (timer = setTimeout(r, ms))), this.stopped]);
    clearTimeout(timer);
  }

  // ---------------------------------------------------------------- targets

  private candidates(): string[] {
    const running = new Set(this.ctx.cluster.running());
    return [...this.ctx.cluster.members.keys()].filter((n) => running.has(n) && !this.impaired.has(n) && !this.paused.has(n)).sort();
  }

  /** The leader as the unimpaired members see it (one that says it leads, highest term), within ~3 s. */
  private async findLeader(candidates: string[]): Promise<string | undefined> {
    const deadline = this.ctx.now() + 3000;
    while (!this.stopping && this.ctx.now() < deadline) {
      const statuses = await Promise.all(
        candidates.map((n) =>
          this.ctx.conns
            .get(n)
            .clusterCall('Status', {}, 300)
            .catch(() => undefined),
        ),
      );
      let best: { name: string; term: number } | undefined;
      for (const s of statuses) {
        if (s?.role === 'leader' && candidates.includes(s.member) && (!best || Number(s.term) > best.term)) {
          best = { name: s.member, term: Number(s.term) };
        }
      }
      if (best) return best.name;
      await this.pauseFor(100);
    }
    return undefined;
  }

  private static choose(list: string[], pick: number): string {
    return list[Math.min(list.length - 1, Math.floor(pick * list.length))];
  }

  private async resolve(f: PlannedFault): Promise<Targets> {
    const candidates = this.candidates();
    if (candidates.length === 0) throw new Error('no unimpaired member to target');
    const needsLeader = f.atLeader || (f.kind === 'partition' && f.variant === 'one-way');
    const leader = needsLeader ? await this.findLeader(candidates) : undefined;
    if (needsLeader && !leader) this.note(`fault ${f.id}: no leader among ${candidates.join(', ')} within 3 s; choosing a random member`);
    const aim = f.atLeader && leader ? leader : Nemesis.choose(candidates, f.pick);
    if (f.kind === 'partition' && f.variant === 'one-way') {
      if (candidates.length < 2) throw new Error(`one-way cut needs two unimpaired members (have ${candidates.join(', ')})`);
      // Without a known leader, cut between two random members instead.
      const other = leader ?? Nemesis.choose(candidates, 1 - f.pick);
      const followers = candidates.filter((n) => n !== other);
      return { impaired: [Nemesis.choose(followers, f.pick)], leader: other };
    }
    if (f.kind === 'partition' && f.variant === 'split') {
      // A minority of `width` members, starting at the aimed one, in name order.
      const ring = [aim, ...candidates.filter((n) => n !== aim)];
      return { impaired: ring.slice(0, Math.min(f.width, candidates.length)), leader };
    }
    return { impaired: [aim], leader };
  }

  // ---------------------------------------------------------------- faults

  private async execute(f: PlannedFault): Promise<void> {
    this.reserved += f.width;
    let targets: Targets;
    try {
      const resolved = this.resolving.then(async () => {
        const t = await this.resolve(f);
        if (!this.stopping) for (const m of t.impaired) this.impaired.set(m, f.id);
        return t;
      });
      this.resolving = resolved.catch(() => undefined);
      targets = await resolved;
      if (this.stopping) {
        for (const m of targets.impaired) if (this.impaired.get(m) === f.id) this.impaired.delete(m);
        return;
      }
    } finally {
      this.reserved -= f.width;
    }
    const record: FaultRecord = {
      id: f.id,
      kind: f.kind,
      ...(f.variant ? { variant: f.variant } : {}),
      targets: targets.impaired,
      plannedAtMs: f.atMs,
      startedAtMs: this.ctx.now(),
      description: '',
    };
    this.records.push(record);
    const roleOf = (m: string): string => (m === targets.leader ? ' (leader)' : '');
    try {
      switch (f.kind) {
        case 'kill-leader':
        case 'kill':
          await this.killFor(f, record, targets.impaired[0], roleOf(targets.impaired[0]));
          break;
        case 'pause':
          await this.pause(f, record, targets.impaired[0], roleOf(targets.impaired[0]));
          break;
        case 'restart':
          await this.restart(f, record, targets.impaired[0], roleOf(targets.impaired[0]));
          break;
        case 'partition':
          await this.partition(f, record, targets);
          break;
      }
    } catch (err) {
      record.error = errorText(err);
      this.note(`fault ${f.id} (${record.description || f.kind}): ${record.error}`);
    } finally {
      for (const m of targets.impaired) if (this.impaired.get(m) === f.id) this.impaired.delete(m);
    }
  }

  private inject(record: FaultRecord, description: string): void {
    record.description = description;
    record.startedAtMs = this.ctx.now();
    this.events.push({ atMs: record.startedAtMs, type: 'inject', faultId: record.id, text: description });
    this.ctx.log(`fault ${record.id}: ${description}`);
  }

  private healed(record: FaultRecord, text: string): void {
    record.healedAtMs = this.ctx.now();
    this.events.push({ atMs: record.healedAtMs, type: 'heal', faultId: record.id, text });
    this.ctx.log(`fault ${record.id} healed: ${text}`);
  }

  /**
   * After a heal: keep the slot until the members serve again (bounded), and for at least
   * settleMs from the heal in all (as the plan assumes).
   */
  private async settle(f: PlannedFault, members: string[]): Promise<void> {
    if (this.stopping) return;
    const healedAt = this.ctx.now();
    const deadline = healedAt + 15_000;
    for (const m of members) {
      while (!this.stopping && this.ctx.now() < deadline) {
        const s = await this.ctx.conns
          .get(m)
          .clusterCall('Status', {}, 300)
          .catch(() => undefined);
        if (s?.leader) break;
        await this.pauseFor(50);
      }
      if (this.ctx.now() >= deadline) this.note(`fault ${f.id}: ${m} did not serve with a leader within 15 s of the heal`);
    }
    await this.pauseFor(healedAt + settleMs(f.kind) - this.ctx.now());
  }

  private async startAgain(m: string): Promise<void> {
    await this.ctx.cluster.restart(m);
  }

  private async killFor(f: PlannedFault, record: FaultRecord, m: string, role: string): Promise<void> {
    this.inject(record, `kill -9 ${m}${role}, restart after ${(f.durationMs / 1000).toFixed(1)} s`);
    this.bump(m);
    this.stoppedByUs.add(m);
    try {
      await this.ctx.cluster.kill(m, 'SIGKILL');
      await this.pauseFor(f.durationMs);
      await this.startAgain(m);
    } finally {
      this.stoppedByUs.delete(m);
    }
    this.healed(record, `${m} started again`);
    await this.settle(f, [m]);
  }

  private async pause(f: PlannedFault, record: FaultRecord, m: string, role: string): Promise<void> {
    this.inject(record, `SIGSTOP ${m}${role} for ${(f.durationMs / 1000).toFixed(1)} s`);
    this.paused.add(m);
    try {
      await this.ctx.cluster.kill(m, 'SIGSTOP');
      await this.pauseFor(f.durationMs);
    } finally {
      await this.ctx.cluster.kill(m, 'SIGCONT');
      this.paused.delete(m);
    }
    this.healed(record, `SIGCONT ${m}`);
    await this.settle(f, [m]);
  }

  private async restart(f: PlannedFault, record: FaultRecord, m: string, role: string): Promise<void> {
    this.inject(record, `restart ${m}${role}: SIGTERM, then start`);
    this.bump(m);
    this.stoppedByUs.add(m);
    try {
      await this.ctx.cluster.kill(m, 'SIGTERM');
      await this.startAgain(m);
    } finally {
      this.stoppedByUs.delete(m);
    }
    this.healed(record, `${m} started again`);
    await this.settle(f, [m]);
  }

  private bump(m: string): void {
    this.incarnation.set(m, (this.incarnation.get(m) ?? 0) + 1);
  }

  private async partition(f: PlannedFault, record: FaultRecord, targets: Targets): Promise<void> {
    const mesh = this.ctx.mesh;
    const cutMode: LinkMode = f.cut === 'reset' ? { kind: 'reset' } : { kind: 'blackhole', how: f.cut ?? 'drop' };
    const m = targets.impaired[0];
    const role = m === targets.leader ? ' (leader)' : '';
    const secs = `${(f.durationMs / 1000).toFixed(1)} s`;
    let links: Array<[string, string]>;
    switch (f.variant) {
      case 'one-way': {
        const leader = targets.leader!;
        links = f.direction === 'from-leader' ? [[leader, m]] : [[m, leader]];
        this.inject(record, `one-way cut ${links[0][0]} -> ${links[0][1]} (${f.direction === 'from-leader' ? 'leader to follower' : 'follower to leader'}), ${describeMode(cutMode)}, ${secs}`);
        break;
      }
      case 'split':
        links = mesh.linksAcross(targets.impaired);
        this.inject(record, `split {${targets.impaired.join(',')}} from the rest${targets.impaired.includes(targets.leader ?? '') ? ' (leader in the minority)' : ''}, ${describeMode(cutMode)}, ${secs}`);
        break;
      case 'slow': {
        links = mesh.linksOf(m);
        const delay: LinkMode = { kind: 'delay', ms: f.delayMs ?? 100 };
        this.inject(record, `slow links of ${m}${role}: ${describeMode(delay)} each way, ${secs}`);
        try {
          mesh.set(links, delay);
          await this.pauseFor(f.durationMs);
        } finally {
          mesh.set(links, PASS);
        }
        this.healed(record, `links of ${m} pass`);
        await this.settle(f, []);
        return;
      }
      case 'flap': {
        links = mesh.linksOf(m);
        this.inject(record, `flap ${m}${role}: ${describeMode(cutMode)} / pass every 0.2–0.8 s, ${secs}`);
        const random = seededRandom(f.flapSeed ?? f.id);
        const endMs = this.ctx.now() + f.durationMs;
        let cut = true;
        let toggles = 0;
        try {
          while (!this.stopping && this.ctx.now() < endMs) {
            mesh.set(links, cut ? cutMode : PASS);
            toggles++;
            cut = !cut;
            await this.pauseFor(Math.min(200 + random() * 600, Math.max(0, endMs - this.ctx.now())));
          }
        } finally {
          mesh.set(links, PASS);
        }
        this.healed(record, `links of ${m} pass (${toggles} toggles)`);
        await this.settle(f, []);
        return;
      }
      case 'isolate-leader':
      case 'isolate':
      default:
        links = mesh.linksOf(m);
        this.inject(record, `isolate ${m}${role}, ${describeMode(cutMode)}, ${secs}`);
        break;
    }
    try {
      mesh.set(links, cutMode);
      await this.pauseFor(f.durationMs);
    } finally {
      mesh.set(links, PASS);
    }
    this.healed(record, `${links.length} link${links.length === 1 ? '' : 's'} pass`);
    await this.settle(f, []);
  }
}
