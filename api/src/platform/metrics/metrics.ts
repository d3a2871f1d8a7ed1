import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per app instance (tests boot several in one process). Names follow JupyterHub's, prefixed riglab_. */
export class Metrics {
  readonly registry = new Registry();
  readonly requestDuration: Histogram<'method' | 'handler' | 'code'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'riglab_' });
    this.requestDuration = new Histogram({
      name: 'riglab_request_duration_seconds',
      help: 'Duration of HTTP requests to the portal, by method, route and status code',
      labelNames: ['method', 'handler', 'code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
  }
}
