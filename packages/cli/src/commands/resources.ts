import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** kubectl-like commands: apply, create, get, describe, delete, scale, logs, cordon, uncordon, drain, top, token. */
export function registerResourceCommands(_program: Command, _ctx: CliContext): void {}
