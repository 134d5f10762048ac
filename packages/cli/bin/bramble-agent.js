#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1 --no-opt
// `bramble agent ...` with the agent's own V8 settings, for the supervisor, systemd and tests.
// An agent runs a few pods and moves little data, so it trades peak speed for resident memory:
// a 1 MiB young generation and no optimizing compiler keep an idle agent ~10 MB smaller
// (scripts/bench schedule: 61-62 MB against 72 MB per agent, the same CPU seconds).
process.argv.splice(2, 0, 'agent');
await import('../dist/main.js');
