/**
 * Response metadata a master puts on Resources calls, so that clients of that API (which
 * has no response header message, unlike KV) learn who answered and who leads, and send
 * their next calls to the leader instead of through a follower.
 */
export const MEMBER_HEADER = 'bramble-member';
export const LEADER_HEADER = 'bramble-leader';
