/**
 * The built-in config used when no file is given (and the base a file is merged onto): the
 * embedded database in `.tollgate-data`, port 8080 on the loopback interface, and the `mock`
 * provider with one catalog model, so a fresh checkout answers requests without any vendor key.
 */
export function defaultConfig(): Record<string, unknown> {
  return {
    port: 8080,
    host: '127.0.0.1',
    dataDir: '.tollgate-data',
    logLevel: 'info',
    providers: [{ id: 'mock', kind: 'mock' }],
    models: [
      {
        name: 'mock-echo',
        provider: 'mock',
        // Made-up prices so the demo shows costs and savings; the mock provider bills nobody.
        prices: { input: '0.15', output: '0.60' },
        marketPrices: { input: '0.30', output: '1.20' },
      },
    ],
    plugins: { dashboard: true },
    // Process and Node.js metrics beside the gateway's on /metrics (promtool-clean).
    metrics: { defaultMetrics: true },
  }
}
