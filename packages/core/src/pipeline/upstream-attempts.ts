/**
 * The upstream attempts of one request: fallback across the planned deployments, retries with
 * backoff that honours Retry-After, per-attempt timeouts, all inside the route's total time
 * budget, and only until the first byte of an answer (a stream is committed once its first
 * batch of chunks arrived; nothing after that is retried, so the client never sees a silent
 * switch). Failed attempts before the last land in ctx.failedAttempts (the last one is the
 * request's error, its route in ctx.route); circuit breakers learn from each outcome.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { CanonicalRequest, ResponseChunk } from '../canonical/types.js'
import type { RequestContext } from '../context/request-context.js'
import { isTollgateError, TollgateError } from '../errors/tollgate-error.js'
import { UpstreamError, type UpstreamResult } from '../providers/provider.js'
import type { LimitClaim } from '../routing/rate-limiter.js'
import type { Candidate } from '../routing/router.js'
import type { EffectivePolicy } from '../routing/routing-policy.js'
import type { RoutingService } from '../routing/routing-service.js'
import type { Cancellation } from '../util/cancellation.js'
import { mapUpstreamError } from './upstream-errors.js'

/** No new attempt starts with less than this much of the budget left, ms. */
const MIN_ATTEMPT_MS = 100

/** The attempt that answered. */
export interface AttemptSuccess {
  candidate: Candidate
  result: UpstreamResult
  /** Stream answers: the first batch (already read, before committing) and the rest. */
  first?: ResponseChunk[]
  rest?: AsyncIterator<ResponseChunk[]>
  /** Rate-limit claims taken for this attempt (tokens are settled when the request ends). */
  claims: LimitClaim[]
  /** Detaches the attempt from the client's abort signal (call when the request ends). */
  dispose(): void
}

/** What the attempts need. */
export interface AttemptInput {
  ctx: RequestContext
  request: CanonicalRequest
  candidates: readonly Candidate[]
  policy: EffectivePolicy
  routing: RoutingService
  passHeaders: Record<string, string>
  /** Aborted when the client goes away. */
  cancellation: Cancellation
  /** Tokens reserved against token-per-minute limits. */
  tokens: number
}

/** Thrown when the client went away during the attempts. */
export class ClientGoneError extends Error {
  constructor() {
    super('client aborted')
    this.name = 'AbortedError'
  }
}

/** Runs attempts until one answers; throws the last failure (or why none could start). */
export async function runAttempts(input: AttemptInput): Promise<AttemptSuccess> {
  const { ctx, policy, routing, cancellation } = input
  const health = routing.health
  const started = performance.now()
  const deadline = started + policy.timeouts.totalMs
  const list = policy.fallback ? input.candidates : input.candidates.slice(0, 1)
  const maxAttempts = policy.retry.maxAttempts ?? list.length
  let attempts = 0
  let lastError: TollgateError | undefined
  let limited: number | undefined
  let outOfBudget = false
  for (let round = 0; attempts < maxAttempts; round++) {
    let tried = false
    for (const c of list) {
      if (attempts >= maxAttempts) break
      const id = c.route.deployment.id
      if (attempts > 0 && !(c.panic && round === 0)) {
        // The breaker may have opened while this request was trying others.
        const verdict = health.check(id)
        if (!verdict.ok) continue
        c.probe = verdict.probe
      }
      // A retry round waits its backoff, and at least what the provider asked for (Retry-After).
      // The first round never waits: deployments that asked to wait were already put last.
      let wait = 0
      if (round > 0) {
        wait = backoffMs(policy, round)
        const notBefore = health.notBefore(id) - Date.now()
        if (notBefore > wait) wait = notBefore
      }
      if (wait + MIN_ATTEMPT_MS > deadline - performance.now()) {
        outOfBudget = true
        continue
      }
      if (wait > 0) {
        try {
          await sleep(wait, undefined, { signal: cancellation.signal })
        } catch {
          throw new ClientGoneError()
        }
      }
      const claims = routing.deploymentClaims(c.route, input.tokens)
      if (claims.length > 0 && !routing.limiter.tryTakeLocal(claims)) {
        const denied = await routing.limiter.take(claims)
        if (denied) {
          limited = Math.min(limited ?? Number.POSITIVE_INFINITY, denied.retryAfter)
          continue
        }
      }
      attempts++
      tried = true
      ctx.route = {
        model: c.model.name,
        provider: c.route.provider.id,
        providerKind: c.route.adapter.config.kind,
        upstreamModel: c.route.deployment.upstreamModel,
        attempt: attempts,
        ownKey: c.ownKey !== undefined,
        deployment: id,
        ...(c.route.region ? { region: c.route.region } : {}),
      }
      if (c.probe) health.startProbe(id)
      const timeoutMs = Math.max(1, Math.min(c.route.deployment.attemptTimeoutMs ?? policy.timeouts.attemptMs, deadline - performance.now()))
      const t0 = performance.now()
      try {
        const success = await attemptOnce(input, c, timeoutMs)
        health.success(id)
        success.claims = claims
        return success
      } catch (err) {
        if (cancellation.aborted) {
          health.release(id)
          throw new ClientGoneError()
        }
        giveBackTokens(routing, claims)
        const mapped = isTollgateError(err) ? err : mapUpstreamError(err, c.route.provider.id)
        if (!isRetryable(err)) {
          health.release(id)
          throw mapped
        }
        const upstream = err as UpstreamError
        ctx.failedAttempts.push({ provider: c.route.provider.id, model: c.model.name, deployment: id, status: upstream.status, code: mapped.code, latencyMs: Math.round(performance.now() - t0) })
        if (upstream.kind === 'http' && upstream.status === 429) {
          // The provider is pacing us, not failing: wait as asked (at least a second), without tripping the breaker.
          health.cooldown(id, upstream.retryAfter ?? 1)
          health.release(id)
        } else {
          if (upstream.retryAfter !== undefined) health.cooldown(id, upstream.retryAfter)
          health.failure(id)
        }
        lastError = mapped
      }
    }
    if (!tried) break
  }
  if (lastError) {
    // The last failure is the request's own error (its route stays in ctx.route); failedAttempts keeps those before it.
    ctx.failedAttempts.pop()
    throw lastError
  }
  if (limited !== undefined) {
    throw new TollgateError('TOLLGATE_ERR_RATELIMIT_PROVIDER', `Every deployment of "${input.request.model}" is at its provider or deployment rate limit; retry in ${limited} s`, { retryAfter: limited, headers: { 'retry-after': String(limited) } })
  }
  if (outOfBudget) {
    const wait = Math.max(1, Math.ceil(Math.min(...list.map((c) => health.notBefore(c.route.deployment.id) - Date.now())) / 1000))
    throw new TollgateError('TOLLGATE_ERR_UPSTREAM_RATE_LIMITED', `Every deployment of "${input.request.model}" asked to wait longer than the route's time budget; retry in ${wait} s`, { retryAfter: wait, headers: { 'retry-after': String(wait) } })
  }
  throw new TollgateError('TOLLGATE_ERR_ROUTING_CIRCUIT_OPEN', `Every usable deployment of "${input.request.model}" is failing`)
}

/** One attempt with its own timeout; a stream is read up to its first batch before it counts as answered. */
async function attemptOnce(input: AttemptInput, c: Candidate, timeoutMs: number): Promise<AttemptSuccess> {
  const { cancellation: attempt, unlink: dispose } = input.cancellation.child()
  const timer = setTimeout(() => attempt.abort(new DOMException('upstream attempt timed out', 'TimeoutError')), timeoutMs)
  let result: UpstreamResult | undefined
  try {
    result = await c.route.adapter.call({
      ctx: input.ctx,
      request: input.request,
      upstreamModel: c.route.deployment.upstreamModel,
      apiKey: c.ownKey ?? c.route.provider.apiKey,
      passHeaders: input.passHeaders,
      // An AbortSignal only for adapters that read it; the HTTP helpers use the Cancellation.
      get signal() {
        return attempt.signal
      },
      cancellation: attempt,
    })
    if (result.kind !== 'stream') {
      clearTimeout(timer)
      return { candidate: c, result, claims: [], dispose }
    }
    const rest = (result.batches ?? singleChunks(result.chunks))[Symbol.asyncIterator]()
    const first = await rest.next()
    clearTimeout(timer)
    return { candidate: c, result, first: first.done ? undefined : first.value, rest, claims: [], dispose }
  } catch (err) {
    clearTimeout(timer)
    dispose()
    if (result?.kind === 'stream') result.cancel()
    if (attempt.aborted && !input.cancellation.aborted && !(err instanceof UpstreamError && err.kind === 'timeout')) {
      throw new UpstreamError('timeout', 'upstream attempt timed out', { cause: err })
    }
    throw err
  }
}

/** Connection errors, timeouts, 408, 429, 5xx and broken or malformed answers may go elsewhere; other errors are about the request. */
function isRetryable(err: unknown): boolean {
  if (!(err instanceof UpstreamError)) return false
  if (err.kind !== 'http') return true
  const s = err.status ?? 502
  return s === 408 || s === 429 || s >= 500
}

/** Exponential backoff with equal jitter: half fixed, half random, capped. */
function backoffMs(policy: EffectivePolicy, round: number): number {
  const { initialBackoffMs, maxBackoffMs } = policy.retry
  const d = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (round - 1))
  return d / 2 + Math.random() * (d / 2)
}

function giveBackTokens(routing: RoutingService, claims: LimitClaim[]): void {
  // Requests stay counted (the provider saw them); reserved tokens go back.
  for (const c of claims) if (c.key.endsWith(':t')) routing.limiter.give(c.key, c.amount)
}

/** Adapts a one-chunk-at-a-time stream to batches of one. */
export async function* singleChunks(chunks: AsyncIterable<ResponseChunk>): AsyncGenerator<ResponseChunk[]> {
  for await (const chunk of chunks) yield [chunk]
}
