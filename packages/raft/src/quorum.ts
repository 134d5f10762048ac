import type { NodeId } from './types.js';

/** Smallest number of voters that forms a majority. */
export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The highest index that a majority of voters has durably matched.
 * Sort matches descending: the value at position (majority - 1) is held by at least a majority.
 */
export function committedIndex(voters: Iterable<NodeId>, matchOf: (id: NodeId) => number): number {
  const matches: number[] = [];
  for (const id of voters) matches.push(matchOf(id));
  if (matches.length === 0) return 0;
  matches.sort((a, b) => b - a);
  return matches[majority(matches.length) - 1];
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** Outcome of an election among `voters` given the votes received so far. */
export function voteResult(voters: Iterable<NodeId>, votes: Map<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  let total = 0;
  for (const id of voters) {
    total++;
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const needed = majority(total);
  if (granted >= needed) return 'won';
  if (total - rejected < needed) return 'lost';
  return 'pending';
}
