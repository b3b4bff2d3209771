/** What `within` saw: the promise's value, or that the time ran out first. */
export type Within<T> = { done: true; value: T } | { done: false }

/**
 * Waits for a promise at most `ms`: its value when it settles in time (its rejection, rethrown,
 * when it fails in time), `{ done: false }` otherwise. The promise keeps running; a rejection
 * after the time is up is handled here (the race subscribed to it), never reported as unhandled.
 */
export async function within<T>(promise: Promise<T>, ms: number): Promise<Within<T>> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<Within<T>>((resolve) => {
    timer = setTimeout(() => resolve({ done: false }), ms)
  })
  try {
    return await Promise.race([promise.then((value): Within<T> => ({ done: true, value })), late])
  } finally {
    clearTimeout(timer)
  }
}
