import type { LogLevel } from '../../config/index.js'

/** Log level of one-shot commands: warnings and errors only, unless LOG_LEVEL asks for more. */
export function quietLevel(env: NodeJS.ProcessEnv): LogLevel {
  const level = env.LOG_LEVEL
  return level === 'debug' || level === 'trace' || level === 'silent' ? level : 'warn'
}
