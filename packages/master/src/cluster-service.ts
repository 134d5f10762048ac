import * as grpc from '@grpc/grpc-js';
import { Role, type ConfChange } from '@bramble/raft';
import { serviceClient } from '@bramble/transport';
import type { Wire } from './kv-convert.js';
import { toServiceError } from './kv-service.js';
import { encodeMemberContext } from './proposal-codec.js';
import { HostError, type RaftHost } from './raft-host.js';

export const VERSION = '0.1.0';

export interface ClusterServiceOptions {
  clusterId: string;
  requestTimeoutMs: number;
  tickMs: number;
  electionTicks: number;
}

type Handler = (req: Wire) => Promise<Wire>;

/** The Cluster service of proto/cluster.proto: status and membership. */
export class ClusterService {
  private readonly clients = new Map<string, grpc.Client>();
  private readonly ClusterClient = serviceClient('cluster.proto', 'bramble.cluster.Cluster');

  constructor(
    private readonly host: RaftHost,
    private readonly opts: ClusterServiceOptions,
  ) {}

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private unary(handler: Handler) {
    return (call: grpc.ServerUnaryCall<Wire, Wire>, callback: grpc.sendUnaryData<Wire>) => {
      handler(call.request).then(
        (res) => callback(null, res),
        (err) => callback(toServiceError(err)),
      );
    };
  }

  /** Run `method` on the leader: here if we lead, else forwarded over gRPC. */
  private onLeader(method: string, local: Handler): Handler {
    return async (req) => {
      if (this.host.isLeader) return local(req);
      const leader = this.host.leaderName;
      const address = leader ? this.host.sm.members.get(leader)?.address : undefined;
      if (!leader || !address) throw new HostError('UNAVAILABLE', `no leader known by ${this.host.name}; retry shortly`);
      let client = this.clients.get(address);
      if (!client) {
        client = new this.ClusterClient(address, grpc.credentials.createInsecure());
        this.clients.set(address, client);
      }
      const deadline = new Date(Date.now() + this.opts.requestTimeoutMs);
      return new Promise<Wire>((resolve, reject) => {
        (client as unknown as Record<string, (r: Wire, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: Wire) => void) => void>)[method](
          req,
          { deadline },
          (err, res) => {
            if (!err) resolve(res);
            else reject(new HostError(grpcCodeName(err.code), `${leader}: ${err.details || err.message}`));
          },
        );
      });
    };
  }

  private members(): Wire[] {
    const conf = this.host.node.confState();
    const out: Wire[] = [];
    for (const name of [...conf.voters, ...conf.learners].sort()) {
      const m = this.host.sm.members.get(name);
      out.push({
        name,
        address: m?.address ?? '',
        http_address: m?.httpAddress ?? '',
        is_learner: conf.learners.includes(name),
      });
    }
    return out;
  }

  private async changeMembership(cc: ConfChange): Promise<void> {
    await this.host.proposeConfChange(cc, this.opts.requestTimeoutMs);
  }

  /** Wait (bounded) until `predicate` holds, checking on every leader change or tick. */
  private async waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new HostError('DEADLINE_EXCEEDED', `${what} did not happen within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, this.opts.tickMs));
    }
  }

  handlers(): grpc.UntypedServiceImplementation {
    return {
      Status: this.unary(async () => {
        const s = this.host.status();
        const role = s.confState.learners.includes(this.host.name) ? 'learner' : s.role;
        const errors: string[] = [];
        if (!s.leader) errors.push('no leader');
        return {
          cluster_id: this.opts.clusterId,
          member: this.host.name,
          leader: s.leader,
          term: s.term,
          role,
          commit_index: s.commit,
          applied_index: s.applied,
          revision: this.host.sm.kv.revision,
          last_index: s.lastIndex,
          snapshot_index: this.host.currentSnapshotIndex,
          version: VERSION,
          errors,
        };
      }),
      HashKV: this.unary(async () => {
        // Read synchronously, so the hash, revision and applied index describe one state.
        const kv = this.host.sm.kv;
        return { hash: kv.hash(), revision: kv.revision, applied_index: this.host.appliedIndex, compact_revision: kv.compactRevision };
      }),
      MemberList: this.unary(async (req) => {
        if (req.linearizable) await this.host.linearizableRead(this.opts.requestTimeoutMs);
        return { cluster_id: this.opts.clusterId, leader: this.host.leaderName, members: this.members() };
      }),
      MemberAdd: this.unary(
        this.onLeader('MemberAdd', async (req) => {
          const name = String(req.name ?? '');
          const address = String(req.address ?? '');
          if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) {
            throw new HostError('INVALID_ARGUMENT', `member name "${name}": use lowercase letters, digits, '-' and '.'`);
          }
          if (!/^[^:]+:\d+$/.test(address)) throw new HostError('INVALID_ARGUMENT', `member address "${address}" is not HOST:PORT`);
          const existing = this.host.sm.members.get(name);
          if (existing) throw new HostError('FAILED_PRECONDITION', `member ${name} already exists (${existing.address})`);
          await this.changeMembership({
            type: 'addLearner',
            nodeId: name,
            context: encodeMemberContext({ address, httpAddress: String(req.http_address ?? ''), stayLearner: Boolean(req.stay_learner) }),
          });
          const members = this.members();
          return { member: members.find((m) => m.name === name), members };
        }),
      ),
      MemberPromote: this.unary(
        this.onLeader('MemberPromote', async (req) => {
          const name = String(req.name ?? '');
          if (!this.host.node.confState().learners.includes(name)) {
            throw new HostError('NOT_FOUND', `member ${name} is not a learner`);
          }
          await this.changeMembership({ type: 'addNode', nodeId: name });
          return { members: this.members() };
        }),
      ),
      MemberRemove: this.unary(
        this.onLeader('MemberRemove', async (req) => {
          const name = String(req.name ?? '');
          const conf = this.host.node.confState();
          if (!conf.voters.includes(name) && !conf.learners.includes(name)) {
            throw new HostError('NOT_FOUND', `member ${name} is not in the cluster (members: ${[...conf.voters, ...conf.learners].join(', ')})`);
          }
          if (name === this.host.name) {
            // Removing the leader: hand leadership over first, then let the new leader remove us.
            const target = this.mostUpToDateVoter(name);
            if (!target) throw new HostError('FAILED_PRECONDITION', `cannot remove ${name}: it is the only voter`);
            this.host.transferLeader(target);
            await this.waitFor(() => !this.host.isLeader && this.host.leaderName !== '', this.opts.requestTimeoutMs, `leadership transfer to ${target}`);
            return this.onLeader('MemberRemove', async () => {
              throw new HostError('UNAVAILABLE', 'leadership moved back here; retry');
            })(req);
          }
          await this.changeMembership({ type: 'removeNode', nodeId: name });
          return { members: this.members() };
        }),
      ),
      TransferLeader: this.unary(
        this.onLeader('TransferLeader', async (req) => {
          const requested = String(req.name ?? '');
          const target = requested || this.mostUpToDateVoter(this.host.name);
          if (!target) throw new HostError('FAILED_PRECONDITION', 'no other voter to transfer leadership to');
          if (!this.host.node.confState().voters.includes(target)) {
            throw new HostError('NOT_FOUND', `member ${target} is not a voter`);
          }
          if (target === this.host.name) return { leader: target, term: this.host.status().term };
          this.host.transferLeader(target);
          const timeout = this.opts.tickMs * this.opts.electionTicks * 2 + 500;
          await this.waitFor(() => this.host.leaderName === target && this.host.status().role !== Role.Leader, timeout, `leadership transfer to ${target}`);
          return { leader: target, term: this.host.status().term };
        }),
      ),
    };
  }

  private mostUpToDateVoter(except: string): string | undefined {
    const s = this.host.status();
    let best: string | undefined;
    let bestMatch = -1;
    for (const v of s.confState.voters) {
      if (v === except) continue;
      const match = s.progress[v]?.match ?? 0;
      if (match > bestMatch) {
        best = v;
        bestMatch = match;
      }
    }
    return best;
  }
}

function grpcCodeName(code: number): HostError['code'] {
  switch (code) {
    case grpc.status.INVALID_ARGUMENT:
      return 'INVALID_ARGUMENT';
    case grpc.status.NOT_FOUND:
      return 'NOT_FOUND';
    case grpc.status.FAILED_PRECONDITION:
      return 'FAILED_PRECONDITION';
    case grpc.status.DEADLINE_EXCEEDED:
      return 'DEADLINE_EXCEEDED';
    default:
      return 'UNAVAILABLE';
  }
}
