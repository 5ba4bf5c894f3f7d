/**
 * The first SIGTERM or SIGINT, for long-running commands (serve, tail-logs -f). While listening,
 * later signals are absorbed, so a second Ctrl-C does not kill a shutdown that is under way.
 */
export function stopSignal(): { received: Promise<NodeJS.Signals>; dispose(): void } {
  let resolveOnce: (signal: NodeJS.Signals) => void = () => undefined;
  const received = new Promise<NodeJS.Signals>((resolve) => (resolveOnce = resolve));
  const handler = (signal: NodeJS.Signals) => resolveOnce(signal);
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return {
    received,
    dispose: () => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
    },
  };
}
