// Loading the repository's .proto files at run time (no generated code).
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * How every Bramble service decodes protobuf: field names as written in the .proto
 * (snake_case), 64-bit integers as plain numbers, enums as their names, bytes as
 * Buffers (slices of the received message, not copies), unset scalars at their
 * defaults, `optional` fields absent when unset.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  keepCase: true,
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: true,
  arrays: true,
  oneofs: true,
});

/** Set to a directory to load .proto files from there instead of searching upward. */
export const PROTO_DIR_ENV = 'BRAMBLE_PROTO_DIR';

const here = dirname(fileURLToPath(import.meta.url));
const cache = new Map<string, protoLoader.PackageDefinition>();

/**
 * The directory that holds `file` (e.g. "raft.proto"): $BRAMBLE_PROTO_DIR if set,
 * else the first `proto/` directory containing it found walking up from `startDir`
 * (this module's directory: `packages/transport/src` under vitest,
 * `packages/transport/dist` after a build; both reach the repository root).
 */
export function findProtoDir(file: string, startDir: string = here): string {
  const fromEnv = process.env[PROTO_DIR_ENV];
  if (fromEnv) {
    if (!existsSync(join(fromEnv, file))) {
      throw new Error(`${PROTO_DIR_ENV}=${fromEnv}: no ${file} there`);
    }
    return resolve(fromEnv);
  }
  let dir = resolve(startDir);
  for (;;) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, file))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`proto file ${file}: no proto/${file} in ${startDir} or any directory above it (set ${PROTO_DIR_ENV})`);
    }
    dir = parent;
  }
}

/**
 * Load `file` (a name inside the repository's proto/ directory, e.g. "raft.proto",
 * or an absolute path) with PROTO_LOADER_OPTIONS. Imports resolve against the same
 * directory. Cached per file and options.
 */
export function loadProtoDefinition(file: string, options: protoLoader.Options = {}): protoLoader.PackageDefinition {
  const key = `${file}\0${optionsKey(options)}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const protoDir = isAbsolute(file) ? dirname(file) : findProtoDir(file);
  const def = protoLoader.loadSync(isAbsolute(file) ? file : join(protoDir, file), {
    ...PROTO_LOADER_OPTIONS,
    ...options,
    includeDirs: [protoDir, ...(options.includeDirs ?? [])],
  });
  cache.set(key, def);
  return def;
}

function optionsKey(options: protoLoader.Options): string {
  // Options hold constructors (Number, String, Buffer): key them by name.
  return JSON.stringify(options, (_k, v: unknown) => (typeof v === 'function' ? `fn:${v.name}` : v));
}

/** `loadProtoDefinition` turned into grpc-js constructors (service clients, message definitions). */
export function loadProto(file: string, options: protoLoader.Options = {}): grpc.GrpcObject {
  return grpc.loadPackageDefinition(loadProtoDefinition(file, options));
}

/** The service definition `name` (fully qualified, e.g. "bramble.raft.RaftPeer") from `file`. */
export function serviceDefinition(file: string, name: string, options: protoLoader.Options = {}): grpc.ServiceDefinition {
  const def = loadProtoDefinition(file, options)[name];
  if (!def || 'format' in def) throw new Error(`${file}: no service ${name}`);
  return def as unknown as grpc.ServiceDefinition;
}

/** The client constructor for service `name` (fully qualified) from `file`. */
export function serviceClient(file: string, name: string, options: protoLoader.Options = {}): grpc.ServiceClientConstructor {
  return grpc.makeGenericClientConstructor(serviceDefinition(file, name, options), name.split('.').pop() ?? name);
}

/** Serializer and deserializer of message type `name` (fully qualified) from `file`, for tests and tools. */
export function messageCodec<In extends object = object, Out extends object = object>(
  file: string,
  name: string,
  options: protoLoader.Options = {},
): { serialize(value: In): Buffer; deserialize(bytes: Buffer): Out } {
  const def = loadProtoDefinition(file, options)[name];
  if (!def || !('format' in def) || def.format !== 'Protocol Buffer 3 DescriptorProto') {
    throw new Error(`${file}: no message type ${name}`);
  }
  const msg = def as unknown as protoLoader.MessageTypeDefinition<In, Out>;
  return { serialize: msg.serialize, deserialize: msg.deserialize };
}
