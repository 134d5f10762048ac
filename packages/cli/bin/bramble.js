#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=4
// Long-running masters and agents keep their resident memory low with these settings:
// a 4 MiB young generation (V8 otherwise grows semi-spaces to 16 MiB; 1 MiB made scavenges
// cost a fifth of the CPU under load), and at most two glibc malloc arenas for libuv's and LevelDB's
// threads. They apply when this file is run directly (the supervisor and systemd do).
import '../dist/main.js';
