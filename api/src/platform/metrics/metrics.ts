import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const ASK = 'riglab:metrics:ask';
const ANSWER = 'riglab:metrics:answer';

let workerAggregator: unknown;

interface MetricsMessage {
  type: string;
  id: string;
  text?: string;
}

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
    // Under PORTAL_PROCESSES > 1 the primary gathers every process's registry (prom-client's cluster support).
    if (cluster.isWorker) {
      // Constructing one installs the worker's answer to the primary's requests (prom-client).
      workerAggregator ??= new AggregatorRegistry();
      AggregatorRegistry.setRegistries([this.registry]);
    }
  }

  /** The exposition text: this process's metrics, or, in a cluster, every process's aggregated. */
  async scrape(): Promise<string> {
    if (!cluster.isWorker || !process.send) return this.registry.metrics();
    const id = randomUUID();
    return new Promise((resolve) => {
      const done = (text: string | null) => {
        clearTimeout(timer);
        process.off('message', onMessage);
        resolve(text ?? this.registry.metrics());
      };
      const onMessage = (m: MetricsMessage) => {
        if (m?.type === ANSWER && m.id === id) done(m.text ?? null);
      };
      const timer = setTimeout(() => done(null), 5000);
      process.on('message', onMessage);
      process.send!({ type: ASK, id });
    });
  }
}

/** In the cluster's primary: answers a worker's scrape with all workers' metrics aggregated. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, m: MetricsMessage) => {
    if (m?.type !== ASK) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: ANSWER, id: m.id, text }),
      () => worker.send({ type: ANSWER, id: m.id }),
    );
  });
}
