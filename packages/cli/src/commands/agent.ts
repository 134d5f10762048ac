import { Option, type Command } from 'commander';
import { CliError, UsageError } from '../errors.js';
import { durationMsArg, nonNegativeIntArg, positiveIntArg } from './args.js';
import { exitOnStopSignals } from './stop-signals.js';

/** `bramble agent`: run a worker agent (packages/agent) until SIGTERM/SIGINT; its pods keep running after it exits. */
export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('run a worker agent: join the cluster, heartbeat, and run the pods bound to this node')
    .requiredOption('--name <name>', 'the node name')
    .requiredOption('--address <ip>', "the node's IPv4 address (pods bind it; the Kubelet service listens on it)")
    .requiredOption('--masters <host:port,...>', 'masters to join and talk to')
    .requiredOption('--join-token <token>', 'join token (bramble token create)')
    .requiredOption('--data-dir <dir>', 'node credential, runtime state and pod logs')
    .option('--labels <k=v,...>', 'extra node labels')
    .option('--cpu <quantity>', 'CPU capacity (default 4, a Raspberry Pi 4)')
    .option('--memory <quantity>', 'memory capacity (default 4Gi)')
    .option('--max-pods <n>', 'pods capacity (default 110)', positiveIntArg)
    .option('--port <port>', 'Kubelet gRPC port on --address (0 = any free port)', nonNegativeIntArg, 10250)
    .option('--http <host:port>', 'serve /healthz and /metrics here')
    .addOption(new Option('--heartbeat-interval <duration>', 'heartbeat period to every master').argParser(durationMsArg).default(1_000, '1s'))
    .option('--no-proxy', "do not run the service proxy (listeners for Service ports on --address)")
    .addOption(new Option('--proxy-drain-timeout <duration>', 'how long the proxy lets connections to a removed endpoint finish').argParser(durationMsArg).default(30_000, '30s'))
    .option('--log-level <level>', 'trace|debug|info|warn|error', 'info')
    .action(async (o) => {
      // Loaded here, so other commands do not pay for the agent's modules.
      const { startAgent, parseLabels, resolveAgentOptions, JoinRejectedError } = await import('@bramble/agent');
      let options;
      try {
        options = resolveAgentOptions({
          name: o.name,
          address: o.address,
          masters: String(o.masters).split(',').map((s) => s.trim()).filter(Boolean),
          joinToken: o.joinToken,
          dataDir: o.dataDir,
          labels: parseLabels(o.labels ?? ''),
          cpu: o.cpu,
          memory: o.memory,
          maxPods: o.maxPods,
          port: o.port,
          http: o.http,
          heartbeatIntervalMs: o.heartbeatInterval,
          proxy: o.proxy,
          proxyDrainTimeoutMs: o.proxyDrainTimeout,
          logLevel: o.logLevel,
        });
      } catch (err) {
        throw new UsageError(`--${(err as Error).message}`);
      }
      const abort = new AbortController();
      let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
      const signals = exitOnStopSignals(() => {
        abort.abort();
        return agent?.stop(); // still joining: startAgent gives up and the action returns
      });
      try {
        agent = await startAgent(options, { signal: abort.signal });
      } catch (err) {
        if (signals.signalled) process.exit(0);
        if (err instanceof JoinRejectedError) throw new CliError(err.message);
        throw err;
      }
      if (signals.signalled) await agent.stop().then(() => process.exit(0));
      await new Promise<never>(() => {}); // runs until a signal
    });
}
