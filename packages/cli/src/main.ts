// Entry point of bin/bramble.js: run the CLI and set the exit code (never process.exit,
// so piped output is flushed and long-running commands end on their own terms).
import { run } from './program.js';

process.exitCode = await run(process.argv.slice(2));
