// Data types shared by the Raft core, its storage and its hosts.
// Indexes and terms are plain numbers: exact up to 2^53, far beyond any log we keep.

/** A member's name, e.g. "m1". The empty string means "nobody". */
export type NodeId = string;
export const NONE: NodeId = '';

export enum EntryType {
  /** A client command (or the leader's empty no-op when `data` is empty). */
  Normal = 0,
  /** A membership change; `data` is an encoded ConfChange (see confchange.ts). */
  ConfChange = 1,
}

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must survive a crash before a node may answer a peer. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

export type ConfChangeType = 'addNode' | 'addLearner' | 'removeNode';

export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  /** Opaque to the core: hosts put the member's address here. */
  context?: string;
}

export enum MessageType {
  /** Local only: a forwarded client proposal (follower -> leader). */
  Prop = 'MsgProp',
  App = 'MsgApp',
  AppResp = 'MsgAppResp',
  Vote = 'MsgVote',
  VoteResp = 'MsgVoteResp',
  PreVote = 'MsgPreVote',
  PreVoteResp = 'MsgPreVoteResp',
  Heartbeat = 'MsgHeartbeat',
  HeartbeatResp = 'MsgHeartbeatResp',
  Snap = 'MsgSnap',
  TimeoutNow = 'MsgTimeoutNow',
  /** A follower asks the leader to confirm a read index for `context`. */
  ReadIndex = 'MsgReadIndex',
  ReadIndexResp = 'MsgReadIndexResp',
  /** A follower asks the leader to hand leadership to `from`... or to `index` member; see transferLeader. */
  TransferLeader = 'MsgTransferLeader',
}

/**
 * One message between peers. Fields a type does not use are left at their defaults.
 * The layout mirrors raft.proto so transports can map it one to one.
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** MsgApp: term of the entry at `index`. Vote: candidate's last log term. Rejections: hint term. */
  logTerm: number;
  /** MsgApp: index preceding `entries`. Vote: candidate's last index. AppResp: last matching index or rejected index. ReadIndexResp: the read index. */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** AppResp rejection: where the leader should look next (fast back-off). */
  rejectHint: number;
  snapshot?: Snapshot;
  /** ReadIndex request id, or "transfer" on a campaign caused by TimeoutNow. */
  context?: Uint8Array;
  /** TransferLeader: the member to hand over to. */
  transferee?: NodeId;
}

export enum Role {
  Follower = 'follower',
  PreCandidate = 'pre-candidate',
  Candidate = 'candidate',
  Leader = 'leader',
}

export interface SoftState {
  leader: NodeId;
  role: Role;
}

/** A confirmed linearizable read: once applied >= index, the read for `context` may be served. */
export interface ReadState {
  index: number;
  context: Uint8Array;
}

/**
 * Everything the host must do, in order:
 *  1. persist `snapshot` (if any), `entries` and `hardState` (if any) durably (one atomic batch, fsync when `mustSync`);
 *  2. send `messages` (a leader may send its MsgApp and MsgHeartbeat before step 1 completes: it counts
 *     its own entries toward commit only in `advance`, i.e. once they are durable; dissertation §10.2.1);
 *  3. apply `snapshot` then `committedEntries` to the state machine (ConfChange entries go through `applyConfChange`);
 *  4. call `advance(ready)`.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
  mustSync: boolean;
}

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  isLearner: boolean;
  recentActive: boolean;
  inflight: number;
}

export interface Status {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  leader: NodeId;
  role: Role;
  lastIndex: number;
  confState: ConfState;
  leadTransferee: NodeId;
  /** Only on the leader. */
  progress: Record<NodeId, ProgressStatus>;
}

/** Injected randomness: returns a float in [0, 1). Seed it for reproducible runs. */
export type Random = () => number;

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}
