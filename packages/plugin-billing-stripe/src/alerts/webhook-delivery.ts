import type { BillingAlert } from './alert-types.js'

/** A chat service with incoming webhooks. */
export type WebhookKind = 'slack' | 'discord'

/** The JSON body of an alert in the service's incoming-webhook format. */
export function webhookBody(kind: WebhookKind, alert: BillingAlert): Record<string, unknown> {
  const title = alert.kind === 'low_balance' ? 'Low credit balance' : `Budget ${alert.percent}% reached`
  if (kind === 'slack') {
    // Slack incoming webhooks: `text` is the notification fallback, `blocks` the rendered message.
    return {
      text: `${title}: ${alert.message}`,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: title } },
        { type: 'section', text: { type: 'mrkdwn', text: alert.message } },
        { type: 'context', elements: [{ type: 'mrkdwn', text: `organization ${alert.organizationId} · ${alert.alertKey}` }] },
      ],
    }
  }
  // Discord webhooks: `content` is plain text; an embed carries the details (color: amber or red).
  return {
    content: `**${title}**`,
    embeds: [
      {
        title,
        description: alert.message,
        color: alert.kind === 'budget_threshold' && alert.percent < 100 ? 0xf5a623 : 0xd0021b,
        footer: { text: `organization ${alert.organizationId}` },
        timestamp: alert.at.toISOString(),
      },
    ],
    allowed_mentions: { parse: [] },
  }
}

/** Checks a webhook URL (http or https, no credentials in it). */
export function validWebhookUrl(url: string): boolean {
  try {
    const u = new URL(url)
    return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password
  } catch {
    return false
  }
}

/**
 * Posts an alert to an incoming webhook, retrying network errors, 429 (after its Retry-After or
 * Discord's `retry_after`) and 5xx with backoff. Throws after the last attempt.
 */
export async function deliverWebhook(kind: WebhookKind, url: string, alert: BillingAlert, options: { timeoutMs: number; retries: number }): Promise<void> {
  const body = JSON.stringify(webhookBody(kind, alert))
  let lastError: unknown
  for (let attempt = 0; attempt <= options.retries; attempt++) {
    let wait = 250 * 2 ** attempt
    let retryable = true
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(options.timeoutMs) })
      const text = await res.text()
      if (res.ok) return
      lastError = new Error(`${kind} webhook answered ${res.status}: ${text.slice(0, 200)}`)
      retryable = res.status === 429 || res.status >= 500
      const retryAfter = Number(res.headers.get('retry-after') ?? safeJson(text)?.retry_after)
      if (Number.isFinite(retryAfter) && retryAfter > 0) wait = Math.min(10_000, retryAfter * 1000)
    } catch (err) {
      lastError = err
    }
    if (!retryable) break
    if (attempt < options.retries) await new Promise((r) => setTimeout(r, wait))
  }
  throw lastError
}

function safeJson(text: string): { retry_after?: number } | undefined {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
