import { ConfChangeRefusedError } from './errors.js';
import type { ConfChange, ConfState, NodeId } from './types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify(cc));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const cc = JSON.parse(decoder.decode(data)) as ConfChange;
  if (!cc || typeof cc.nodeId !== 'string' || !['addNode', 'addLearner', 'removeNode'].includes(cc.type)) {
    throw new ConfChangeRefusedError(`malformed conf change entry: ${decoder.decode(data)}`);
  }
  return cc;
}

/** Why `cc` cannot be applied to `conf`, or undefined when it can. */
export function confChangeProblem(conf: ConfState, cc: ConfChange): string | undefined {
  const isVoter = conf.voters.includes(cc.nodeId);
  const isLearner = conf.learners.includes(cc.nodeId);
  if (cc.nodeId === '') return 'conf change names no member';
  switch (cc.type) {
    case 'addNode':
      return isVoter ? `${cc.nodeId} is already a voter` : undefined;
    case 'addLearner':
      if (isVoter) return `${cc.nodeId} is a voter; demoting a voter to learner is not supported`;
      return isLearner ? `${cc.nodeId} is already a learner` : undefined;
    case 'removeNode':
      if (!isVoter && !isLearner) return `${cc.nodeId} is not a member`;
      if (isVoter && conf.voters.length === 1) return `cannot remove ${cc.nodeId}: it is the last voter`;
      return undefined;
  }
}

/** The configuration after `cc`. Changes that are no longer valid (raced with another) leave it unchanged. */
export function applyConfChangeTo(conf: ConfState, cc: ConfChange): ConfState {
  const voters = new Set<NodeId>(conf.voters);
  const learners = new Set<NodeId>(conf.learners);
  switch (cc.type) {
    case 'addNode':
      learners.delete(cc.nodeId);
      voters.add(cc.nodeId);
      break;
    case 'addLearner':
      if (!voters.has(cc.nodeId)) learners.add(cc.nodeId);
      break;
    case 'removeNode':
      if (voters.has(cc.nodeId) && voters.size === 1) break;
      voters.delete(cc.nodeId);
      learners.delete(cc.nodeId);
      break;
  }
  return { voters: [...voters].sort(), learners: [...learners].sort() };
}
