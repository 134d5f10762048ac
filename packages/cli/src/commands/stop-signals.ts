/**
 * SIGTERM/SIGINT for the long-running commands (master, agent): the first signal calls `stop`
 * and exits 0 once it resolves (1, naming the signal, if it fails); a second signal exits 1 at
 * once. `stop` returns undefined when there is nothing to stop yet (the caller then exits on
 * its own); `signalled` tells the caller a signal came.
 */
export function exitOnStopSignals(stop: (signal: NodeJS.Signals) => Promise<void> | undefined): { readonly signalled: boolean } {
  const state = { signalled: false };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (state.signalled) process.exit(1); // a second signal: stop now
    state.signalled = true;
    stop(signal)?.then(
      () => process.exit(0),
      (err: Error) => {
        process.stderr.write(`error: stopping after ${signal}: ${err.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return state;
}
