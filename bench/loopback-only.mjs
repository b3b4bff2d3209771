// Preloaded into a peer gateway that has no host option (node --import ./loopback-only.mjs …):
// every server it starts listens on 127.0.0.1 only, never on all interfaces.
import net from 'node:net'

const listen = net.Server.prototype.listen
net.Server.prototype.listen = function loopbackListen(...args) {
  const [first] = args
  if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
    if (first.path === undefined) args[0] = { ...first, host: '127.0.0.1' }
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (typeof args[1] === 'string') args[1] = '127.0.0.1'
    else args.splice(1, 0, '127.0.0.1')
  }
  return listen.apply(this, args)
}
