import type { Command } from 'commander';

/** `bramble agent`: run a worker agent (owned by the agent work; see packages/agent). */
export function registerAgentCommand(_program: Command): void {}
