/**
 * Structured JSON logs and CloudWatch metrics (embedded metric format) through Powertools.
 * POWERTOOLS_LOG_LEVEL and POWERTOOLS_METRICS_DISABLED tune them (the tests silence both).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

const SERVICE_NAME = 'tfjs-serving';

export const logger = new Logger({ serviceName: SERVICE_NAME });
export const metrics = new Metrics({ namespace: 'TfjsServing', serviceName: SERVICE_NAME });

export function recordRequest(route: string, status: number, millis: number): void {
  metrics.addDimensions({ route, statusClass: `${Math.floor(status / 100)}xx` });
  metrics.addMetric('Latency', MetricUnit.Milliseconds, millis);
  metrics.addMetric('Requests', MetricUnit.Count, 1);
  if (status >= 500) metrics.addMetric('Faults', MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
}

/** One occurrence of a notable event (a backend reset, a model served stale), as its own metric. */
export function recordEvent(name: 'BackendResets' | 'LateAnswers' | 'StaleServes' | 'StoreErrors', dimensions: Record<string, string> = {}): void {
  const single = metrics.singleMetric();
  for (const [key, value] of Object.entries(dimensions)) single.addDimension(key, value);
  single.addMetric(name, MetricUnit.Count, 1);
}
