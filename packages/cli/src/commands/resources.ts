import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { registerApply } from './resources/apply.js';
import { registerDelete } from './resources/delete.js';
import { registerDescribe } from './resources/describe.js';
import { registerExpose } from './resources/expose.js';
import { registerGet } from './resources/get.js';
import { registerLogs } from './resources/logs.js';
import { registerNodeCommands } from './resources/nodes.js';
import { registerRollout } from './resources/rollout.js';
import { registerScale } from './resources/scale.js';
import { registerToken } from './resources/token.js';
import { registerTop } from './resources/top.js';

/** kubectl-like commands: apply, create, get, describe, delete, scale, logs, cordon, uncordon, drain, top, token. */
export function registerResourceCommands(program: Command, ctx: CliContext): void {
  registerApply(program, ctx);
  registerGet(program, ctx);
  registerDescribe(program, ctx);
  registerDelete(program, ctx);
  registerScale(program, ctx);
  registerExpose(program, ctx);
  registerRollout(program, ctx);
  registerLogs(program, ctx);
  registerNodeCommands(program, ctx);
  registerTop(program, ctx);
  registerToken(program, ctx);
}
