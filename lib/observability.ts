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
