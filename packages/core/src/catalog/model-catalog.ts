import type { Usage } from '../canonical/types.js'
import type { Cost } from '../context/request-context.js'
import type { Database } from '../data/database.js'

/** The EntityManager of a catalog write's transaction. */
type TxEm = ReturnType<Database['orm']['em']['fork']>
import { type MicrodollarsPerMillion, costOf, parsePricePerMillion } from '../util/money.js'

/** Prices of a model, microdollars per million tokens. */
export interface ModelPrices {
  input: MicrodollarsPerMillion
  output: MicrodollarsPerMillion
  cachedRead: MicrodollarsPerMillion
  cacheWrite: MicrodollarsPerMillion
}

/** A model of the catalog. */
export interface CatalogModel {
  name: string
  provider: string
  upstreamModel: string
  available: boolean
  /** Your cost. */
  prices: ModelPrices
  /** The market rate, for savings. */
  marketPrices: ModelPrices
  contextWindow?: number
  /** Most output tokens the model produces for one request; budgets reserve this when a request sets no max_tokens. */
  maxOutputTokens?: number
}

/** A model as written in the gateway config: prices in USD per million tokens, as decimal strings. */
export interface ModelConfig {
  name: string
  provider: string
  upstreamModel?: string
  available?: boolean
  prices?: { input?: string; output?: string; cachedRead?: string; cacheWrite?: string }
  marketPrices?: { input?: string; output?: string; cachedRead?: string; cacheWrite?: string }
  contextWindow?: number
  maxOutputTokens?: number
}

/** Parses config prices exactly (no floats). Missing market prices default to your prices. */
export function modelFromConfig(m: ModelConfig, path = 'models'): CatalogModel {
  const parse = (p: ModelConfig['prices'], at: string): ModelPrices => ({
    input: parsePricePerMillion(p?.input ?? '0', `${at}.input`),
    output: parsePricePerMillion(p?.output ?? '0', `${at}.output`),
    cachedRead: parsePricePerMillion(p?.cachedRead ?? p?.input ?? '0', `${at}.cachedRead`),
    cacheWrite: parsePricePerMillion(p?.cacheWrite ?? p?.input ?? '0', `${at}.cacheWrite`),
  })
  const prices = parse(m.prices, `${path}.prices`)
  return {
    name: m.name,
    provider: m.provider,
    upstreamModel: m.upstreamModel ?? m.name,
    available: m.available ?? true,
    prices,
    marketPrices: m.marketPrices ? parse(m.marketPrices, `${path}.marketPrices`) : prices,
    contextWindow: m.contextWindow,
    ...(m.maxOutputTokens !== undefined ? { maxOutputTokens: m.maxOutputTokens } : {}),
  }
}

/**
 * Exact cost of a usage at a model's prices. Cached reads and cache writes are billed at their
 * own prices and the rest of the input at the input price.
 */
export function computeCost(model: CatalogModel, usage: Usage): Cost {
  const at = (p: ModelPrices) => {
    const plainInput = Math.max(0, usage.inputTokens - usage.cachedReadTokens - usage.cacheWriteTokens)
    return costOf(plainInput, p.input) + costOf(usage.cachedReadTokens, p.cachedRead) + costOf(usage.cacheWriteTokens, p.cacheWrite) + costOf(usage.outputTokens, p.output)
  }
  return { cost: at(model.prices), marketCost: at(model.marketPrices) }
}

interface ModelRow {
  name: string
  provider: string
  upstream_model: string
  available: boolean
  input_price: string
  output_price: string
  cached_read_price: string
  cache_write_price: string
  market_input_price: string
  market_output_price: string
  market_cached_read_price: string
  market_cache_write_price: string
  context_window: number | null
  max_output_tokens?: number | null
}

function fromRow(r: ModelRow): CatalogModel {
  return {
    name: r.name,
    provider: r.provider,
    upstreamModel: r.upstream_model,
    available: r.available,
    prices: { input: BigInt(r.input_price), output: BigInt(r.output_price), cachedRead: BigInt(r.cached_read_price), cacheWrite: BigInt(r.cache_write_price) },
    marketPrices: {
      input: BigInt(r.market_input_price),
      output: BigInt(r.market_output_price),
      cachedRead: BigInt(r.market_cached_read_price),
      cacheWrite: BigInt(r.market_cache_write_price),
    },
    contextWindow: r.context_window ?? undefined,
    ...(r.max_output_tokens ? { maxOutputTokens: r.max_output_tokens } : {}),
  }
}

/**
 * The model catalog, held in memory for the hot path and reloaded from the database when it
 * changes here (`reload`) and every `refreshMs` (changes made on other instances).
 */
export class ModelCatalog {
  readonly #db: Database
  #models = new Map<string, CatalogModel>()
  #timer: NodeJS.Timeout | undefined

  constructor(db: Database) {
    this.#db = db
  }

  /** Loads the catalog and starts the periodic refresh. */
  async start(refreshMs = 10_000): Promise<void> {
    await this.reload()
    this.#timer = setInterval(() => void this.reload().catch(() => undefined), refreshMs)
    this.#timer.unref()
  }

  /** Reads every model from the database. */
  async reload(): Promise<void> {
    const rows = await this.#db.orm.em.fork().execute<ModelRow[]>('select * from core_model order by name', [], 'all')
    this.#models = new Map(rows.map((r) => [r.name, fromRow(r)]))
  }

  /** A model by name. */
  get(name: string): CatalogModel | undefined {
    return this.#models.get(name)
  }

  /** Every model. */
  list(): CatalogModel[] {
    return [...this.#models.values()]
  }

  /** Inserts the config's models that the database does not have yet (config seeds; the management API edits). */
  async seed(models: CatalogModel[]): Promise<void> {
    if (models.length === 0) return
    const em = this.#db.orm.em.fork()
    for (const m of models) await em.execute(`insert into core_model (${MODEL_COLUMNS}) values (${MODEL_COLUMNS.split(',').map(() => '?').join(',')}) on conflict (name) do nothing`, modelParams(m), 'run')
    await this.reload()
  }

  /**
   * Creates or replaces a model (management API). `onWritten` runs in the same transaction, so a
   * transactional subscriber (the audit trail) commits or rolls back with the change.
   */
  async upsert(m: CatalogModel, options: { onWritten?: (em: TxEm) => Promise<void> } = {}): Promise<void> {
    const sets = MODEL_COLUMNS.split(',').slice(1).map((c) => `${c} = excluded.${c}`).join(', ')
    await this.#db.orm.em.fork().transactional(async (em) => {
      await em.execute(
        `insert into core_model (${MODEL_COLUMNS}) values (${MODEL_COLUMNS.split(',').map(() => '?').join(',')}) on conflict (name) do update set ${sets}, updated_at = now()`,
        modelParams(m),
        'run',
      )
      await options.onWritten?.(em)
    })
    await this.reload()
  }

  /** Removes a model (management API), `onWritten` in the same transaction. Returns false when there was none. */
  async remove(name: string, options: { onWritten?: (em: TxEm) => Promise<void> } = {}): Promise<boolean> {
    const removed = await this.#db.orm.em.fork().transactional(async (em) => {
      const rows = await em.execute<{ name: string }[]>('delete from core_model where name = ? returning name', [name], 'all')
      if (rows.length > 0) await options.onWritten?.(em)
      return rows.length > 0
    })
    await this.reload()
    return removed
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
  }
}

const MODEL_COLUMNS =
  'name,provider,upstream_model,available,input_price,output_price,cached_read_price,cache_write_price,market_input_price,market_output_price,market_cached_read_price,market_cache_write_price,context_window,max_output_tokens'

function modelParams(m: CatalogModel): unknown[] {
  return [
    m.name, m.provider, m.upstreamModel, m.available,
    m.prices.input.toString(), m.prices.output.toString(), m.prices.cachedRead.toString(), m.prices.cacheWrite.toString(),
    m.marketPrices.input.toString(), m.marketPrices.output.toString(), m.marketPrices.cachedRead.toString(), m.marketPrices.cacheWrite.toString(),
    m.contextWindow ?? null,
    m.maxOutputTokens ?? null,
  ]
}
