// gRPC channel and server settings for peer traffic.
import type { ServerHttp2Session } from 'node:http2';
import type { ChannelOptions, Server, ServerOptions } from '@grpc/grpc-js';

export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_KEEPALIVE_TIME_MS = 10_000;
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 5_000;

export interface PeerGrpcSettings {
  /** Largest gRPC message sent or received (a batch, a snapshot chunk). Default 16 MiB. */
  maxMessageBytes?: number;
  /** Ping an idle connection this often so a dead peer is noticed. Default 10 s. */
  keepaliveTimeMs?: number;
  /** A ping unanswered for this long closes the connection. Default 5 s. */
  keepaliveTimeoutMs?: number;
}

/**
 * Options for the grpc.Server a master creates: PeerTransport.addToServer cannot
 * change them afterwards, and without them the server keeps gRPC's 4 MiB receive
 * limit and never pings idle clients. Merge them with the options the other
 * services need.
 */
export function peerServerOptions(settings: PeerGrpcSettings = {}): ServerOptions {
  const maxMessageBytes = settings.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  return {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.keepalive_time_ms': settings.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': settings.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
  };
}

/** Options of the channel to one peer. */
export function peerChannelOptions(settings: PeerGrpcSettings & { reconnectInitialMs: number; reconnectMaxMs: number }): ChannelOptions {
  const maxMessageBytes = settings.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  return {
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.keepalive_time_ms': settings.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': settings.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
    'grpc.keepalive_permit_without_calls': 1,
    // The channel's own reconnect back-off (default 1 s growing to 120 s) would
    // hide a restarted peer long after our stream back-off wants to retry.
    'grpc.initial_reconnect_backoff_ms': settings.reconnectInitialMs,
    'grpc.max_reconnect_backoff_ms': settings.reconnectMaxMs,
    // Raft resends what it needs; gRPC retries would only buffer and reorder.
    'grpc.enable_retries': 0,
    // One connection per transport and peer, never shared with another channel.
    'grpc.use_local_subchannel_pool': 1,
  };
}

/**
 * Opt-in, and dependent on grpc-js internals: raise the HTTP/2 receive windows of
 * connections a bound server accepts from now on (Node's default is 64 KiB per
 * stream and per connection, and grpc-js offers no server option for it). On
 * loopback this roughly doubles MsgApp throughput (see README). The cost is memory:
 * a client may push up to `connectionWindowBytes` that the server has not read yet.
 *
 * Call after bindAsync has completed. Returns false, changing nothing, when this
 * grpc-js version does not expose its HTTP/2 servers the way we expect.
 */
export function enlargeServerReceiveWindows(
  server: Server,
  opts: { connectionWindowBytes?: number; streamWindowBytes?: number } = {},
): boolean {
  const http2Servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(http2Servers instanceof Map) || http2Servers.size === 0) return false;
  const listeners = [...http2Servers.keys()] as { on?: unknown }[];
  if (!listeners.every((h) => typeof h?.on === 'function')) return false;
  const connectionWindowBytes = opts.connectionWindowBytes ?? 16 * 1024 * 1024;
  const streamWindowBytes = opts.streamWindowBytes ?? 4 * 1024 * 1024;
  for (const h of listeners as { on(event: 'session', fn: (s: ServerHttp2Session) => void): void }[]) {
    h.on('session', (session) => {
      if (session.destroyed) return;
      session.setLocalWindowSize(connectionWindowBytes);
      session.settings({ initialWindowSize: streamWindowBytes });
    });
  }
  return true;
}
