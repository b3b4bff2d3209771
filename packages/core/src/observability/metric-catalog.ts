/**
 * Every metric the gateway exports under its own name, in one list: the gateway registers core's
 * from here, and the Grafana dashboard, the alert rules and their tests check their expressions
 * against it. Names follow `tollgate_<area>_<name>_<unit>` (base units; `_total` only on
 * counters); labels come from bounded sets (no key, user or request ids).
 */

/** A metric kind as Prometheus knows it. */
export type MetricKind = 'counter' | 'gauge' | 'histogram'

/** One metric of the catalog. */
export interface MetricDefinition {
  readonly name: string
  readonly kind: MetricKind
  readonly help: string
  readonly labels: readonly string[]
  /** Who registers it: core, or the id of the plugin that counts it. */
  readonly owner: string
  /** Histogram buckets in the base unit. */
  readonly buckets?: readonly number[]
}

/** Latency buckets, seconds: fine below 10 ms (gateway overhead), coarse up to minutes (long streams). */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] as const

/** Gateway-overhead and hook buckets, seconds: what the gateway itself adds is sub-millisecond to a few ms. */
export const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] as const

const def = (name: string, kind: MetricKind, help: string, labels: readonly string[], extra: { owner?: string; buckets?: readonly number[] } = {}): MetricDefinition => ({
  name,
  kind,
  help,
  labels,
  owner: extra.owner ?? 'core',
  buckets: extra.buckets,
})

/** Core's metrics: registered by every gateway. */
export const CORE_METRICS = {
  requests: def('tollgate_proxy_requests_total', 'counter', 'Proxied LLM requests finished, by provider, catalog model, API route, HTTP status and outcome.', ['provider', 'model', 'route', 'status', 'outcome']),
  requestDuration: def('tollgate_proxy_request_duration_seconds', 'histogram', 'Whole proxied request duration, from arrival to the last byte sent (streams included).', ['provider', 'model', 'route', 'stream'], { buckets: LATENCY_BUCKETS }),
  upstreamDuration: def('tollgate_proxy_upstream_duration_seconds', 'histogram', 'Upstream latency: from the upstream call to its response headers (non-stream: the whole answer).', ['provider', 'model', 'stream'], { buckets: LATENCY_BUCKETS }),
  timeToFirstToken: def('tollgate_proxy_time_to_first_token_seconds', 'histogram', 'Time to first token of streamed answers: from arrival to the first byte sent to the client.', ['provider', 'model'], { buckets: LATENCY_BUCKETS }),
  overhead: def('tollgate_proxy_overhead_seconds', 'histogram', 'Gateway overhead: time to the first byte sent minus the upstream time to its response headers (non-stream: total minus upstream).', ['route', 'stream'], { buckets: OVERHEAD_BUCKETS }),
  tokens: def('tollgate_proxy_tokens_total', 'counter', 'Tokens of finished requests by type (input, output, cached_read, cache_write); estimated counts included.', ['provider', 'model', 'type']),
  cost: def('tollgate_proxy_cost_microdollars_total', 'counter', 'Cost of requests at your prices, in millionths of a US dollar (integers: exact sums, no float money).', ['provider', 'model']),
  marketCost: def('tollgate_proxy_market_cost_microdollars_total', 'counter', 'Cost of requests at market prices, in millionths of a US dollar; savings = market cost - cost.', ['provider', 'model']),
  inflightRequests: def('tollgate_proxy_inflight_requests', 'gauge', 'Proxied requests in flight (streams included).', []),
  inflightStreams: def('tollgate_proxy_inflight_streams', 'gauge', 'Streamed answers in flight.', []),
  upstreamErrors: def('tollgate_proxy_upstream_errors_total', 'counter', 'Failed upstream attempts (retried ones included), by provider and kind (timeout, unreachable, rate_limited, server_error, overloaded, auth, bad_request, not_found, stream_error, other).', ['provider', 'kind']),
  rejections: def('tollgate_proxy_rejections_total', 'counter', 'Requests the gateway refused itself (authentication, validation, plugins: guardrails, budgets, rate limits), by error code.', ['code']),
  rateLimited: def('tollgate_proxy_rate_limited_total', 'counter', 'Requests refused by a gateway rate limit (429 not from the upstream), by error code.', ['code']),
  httpResponses: def('tollgate_http_responses_total', 'counter', 'Every HTTP response (proxy, management, plugin routes, body and parse errors), by method, route template and status class.', ['method', 'route', 'status_class']),
  hookDuration: def('tollgate_plugin_hook_duration_seconds', 'histogram', 'Plugin hook run time, by plugin, hook and outcome (ok, failed).', ['plugin', 'hook', 'outcome'], { buckets: OVERHEAD_BUCKETS }),
  usageQueue: def('tollgate_usage_queue_events', 'gauge', 'Usage events waiting in the writer queue.', []),
  usageFlushDuration: def('tollgate_usage_flush_duration_seconds', 'histogram', 'Usage event batch write time, by outcome (ok, failed).', ['outcome'], { buckets: LATENCY_BUCKETS }),
  usageFlushedEvents: def('tollgate_usage_flushed_events_total', 'counter', 'Usage events in flushed batches, by outcome (ok, failed: retried later).', ['outcome']),
  buildInfo: def('tollgate_build_info', 'gauge', 'Always 1; the labels name the running core version and Node.js version.', ['version', 'node']),
} as const

/**
 * Metrics counted by plugins, declared here so dashboards and alerts can rely on their names and
 * labels. The plugin registers each through `host.metrics`; a gateway without that plugin still
 * exports the name (no series) so queries and rules stay valid.
 */
export const PLUGIN_METRICS = {
  guardrailViolations: def('tollgate_guardrails_violations_total', 'counter', 'Guardrail rule matches, by rule, action (block, warn, redact) and direction (input, output).', ['rule', 'action', 'direction'], { owner: 'guardrails' }),
  budgetRejections: def('tollgate_billing_requests_refused_total', 'counter', 'Requests refused before the upstream call, by reason (balance, budget, unavailable).', ['reason'], { owner: 'billing' }),
} as const

/** Every gateway-named metric: core's and the declared plugin ones. */
export const GATEWAY_METRICS: readonly MetricDefinition[] = [...Object.values(CORE_METRICS), ...Object.values(PLUGIN_METRICS)]
