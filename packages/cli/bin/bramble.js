#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1
// Long-running masters and agents keep their resident memory low with these settings:
// a 1 MiB young generation (V8 otherwise reserves 16 MiB semi-spaces; scavenges become more
// frequent but stay cheap), and at most two glibc malloc arenas for libuv's and LevelDB's
// threads. They apply when this file is run directly (the supervisor and systemd do).
import '../dist/main.js';
