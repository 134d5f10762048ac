import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { Role, type BasicStatus } from '@bramble/raft';

/** The master's Prometheus metrics (names follow etcd's where one exists). */
export class Metrics {
  readonly registry = new Registry();
  readonly term = new Gauge({ name: 'bramble_raft_term', help: 'Current Raft term', registers: [this.registry] });
  readonly isLeader = new Gauge({ name: 'bramble_raft_is_leader', help: '1 if this member is the leader', registers: [this.registry] });
  readonly hasLeader = new Gauge({ name: 'bramble_raft_has_leader', help: '1 if a leader is known', registers: [this.registry] });
  readonly commitIndex = new Gauge({ name: 'bramble_raft_commit_index', help: 'Raft commit index', registers: [this.registry] });
  readonly appliedIndex = new Gauge({ name: 'bramble_raft_applied_index', help: 'Raft applied index', registers: [this.registry] });
  readonly revision = new Gauge({ name: 'bramble_kv_revision', help: 'Current KV store revision', registers: [this.registry] });
  readonly leaderChanges = new Counter({ name: 'bramble_raft_leader_changes_total', help: 'Leader changes seen', registers: [this.registry] });
  readonly proposals = new Counter({ name: 'bramble_raft_proposals_total', help: 'Proposals made on this member', registers: [this.registry] });
  readonly proposalsFailed = new Counter({ name: 'bramble_raft_proposals_failed_total', help: 'Proposals dropped (no leader, transfer)', registers: [this.registry] });
  readonly peerErrors = new Counter({ name: 'bramble_peer_errors_total', help: 'Peer transport errors', labelNames: ['peer'], registers: [this.registry] });
  readonly fsyncDuration = new Histogram({
    name: 'bramble_disk_fsync_duration_seconds',
    help: 'Time to durably persist one Raft Ready',
    buckets: [0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1],
    registers: [this.registry],
  });
  readonly applyDuration = new Histogram({
    name: 'bramble_apply_duration_seconds',
    help: 'Time to apply one batch of committed entries',
    buckets: [0.0001, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128],
    registers: [this.registry],
  });

  constructor(member: string) {
    this.registry.setDefaultLabels({ member });
    collectDefaultMetrics({ register: this.registry });
  }

  update(status: BasicStatus, revision: number): void {
    this.term.set(status.term);
    this.isLeader.set(status.role === Role.Leader ? 1 : 0);
    this.hasLeader.set(status.leader ? 1 : 0);
    this.commitIndex.set(status.commit);
    this.appliedIndex.set(status.applied);
    this.revision.set(revision);
  }
}
