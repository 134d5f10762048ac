/** Prometheus metrics of the controller loop, registered on the master's registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export class ControllerMetrics {
  readonly passes: Counter<'result'>;
  readonly passDuration: Histogram;
  readonly errors: Counter<'controller'>;
  readonly conflicts: Counter<'controller'>;
  readonly active: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.passes = new Counter({ name: 'bramble_controller_passes_total', help: 'Controller passes run on this master', labelNames: ['result'], registers });
    this.passDuration = new Histogram({
      name: 'bramble_controller_pass_duration_seconds',
      help: 'Duration of one pass of every controller',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.errors = new Counter({ name: 'bramble_controller_errors_total', help: 'Controller errors (not counting lost races)', labelNames: ['controller'], registers });
    this.conflicts = new Counter({ name: 'bramble_controller_conflicts_total', help: 'Controller writes that lost an optimistic race', labelNames: ['controller'], registers });
    this.active = new Gauge({ name: 'bramble_controller_active', help: '1 while this master runs the controllers (confirmed leader)', registers });
  }
}
