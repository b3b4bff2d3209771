import { UpstreamError } from '../providers/provider.js'

/** Parses one upstream stream message's JSON data; anything but a JSON object is the upstream breaking protocol. */
export function parseStreamMessage<T extends object>(data: string): T {
  let parsed: unknown
  try {
    parsed = JSON.parse(data)
  } catch (cause) {
    throw new UpstreamError('protocol', 'upstream stream sent a message that is not JSON', { cause })
  }
  if (typeof parsed !== 'object' || parsed === null) throw new UpstreamError('protocol', 'upstream stream sent a message that is not a JSON object')
  return parsed as T
}
