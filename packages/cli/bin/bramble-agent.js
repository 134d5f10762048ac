#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1 --no-opt --no-sparkplug
// `bramble agent ...` with the agent's own V8 settings, for the supervisor, systemd and tests.
// An agent runs a few pods and moves little data, so it trades peak speed for resident memory:
// a 1 MiB young generation and neither optimizing nor baseline compiler (bytecode only).
// scripts/bench schedule --pods 1000 --nodes 50, idle agent RSS: 72 MB with node's defaults,
// 61-62 MB with the first two flags, 58-59 MB with all three; the last costs about 12% more
// agent CPU while pods start (7.8-8.5 against 6.5-7.6 CPU-s for the 50 agents), idle CPU is the same.
process.argv.splice(2, 0, 'agent');
await import('../dist/main.js');
