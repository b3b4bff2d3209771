/**
 * Planted sensitive items for the streaming tests, each with the placeholder its rule puts in
 * its place. Built by concatenation so that the source file itself holds no key-shaped string.
 */
const j = (...parts: string[]) => parts.join('')

export const PLANTED: { name: string; value: string; placeholder: string }[] = [
  { name: 'openai key', value: j('sk-proj-', 'Qm3xT9vLp2Rk8Wc4Zn7Yb1Hs', 'T3Blbk', 'FJ', 'a8Kd2Lm9Pq4Rt6Vx1Zc3Nb5M'), placeholder: '[OPENAI_API_KEY]' },
  { name: 'anthropic key', value: j('sk-ant-', 'api03-', 'x7Kp2Qm9Lr4Tv8Wz1Yc6Nb3Hd5Fg0Js2Ak7Pe9Ru4Ti1Yo6Lw3Mq8Zx5Cv0Bn2Gh7Dk4Fs9Ja1Qp6We3Rt8Yu5Io0Pa2S', 'AA'), placeholder: '[ANTHROPIC_API_KEY]' },
  { name: 'aws access key', value: j('AKIA', 'Q7XW2MZK4TLPERBV'), placeholder: '[AWS_ACCESS_KEY_ID]' },
  { name: 'github token', value: j('ghp_', 'k8Lm2Qp9Rt4Vx7Zc1Nb3Hd6Fg0Js5Ak2Pe8W'), placeholder: '[GITHUB_TOKEN]' },
  { name: 'stripe key', value: j('sk_', 'live_', '51Hq8Kp2Lm9Rt4Vx7Zc1Nb3Hd'), placeholder: '[STRIPE_KEY]' },
  { name: 'slack token', value: j('xoxb-', '781236542736-2364535789652-', 'GkwFDQoHqzXDVsC6GzqYUypD'), placeholder: '[SLACK_TOKEN]' },
  { name: 'jwt', value: j('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9', '.', 'eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFkYSJ9', '.', 'Qm3xT9vLp2Rk8Wc4Zn7Yb1Hs'), placeholder: '[JWT]' },
  { name: 'email', value: 'ada.lovelace@analytical-engines.example.org', placeholder: '[EMAIL]' },
  { name: 'phone', value: '+1 415 555 0132', placeholder: '[PHONE]' },
  { name: 'us ssn', value: '078-05-1123', placeholder: '[US_SSN]' },
  { name: 'credit card', value: '4012 8888 8888 1881', placeholder: '[CREDIT_CARD]' },
  { name: 'iban', value: 'GB82 WEST 1234 5698 7654 32', placeholder: '[IBAN]' },
]

/** Cut points splitting `text` into 2 pieces at `a`, or 3 pieces at `a` and `b`. */
export function splitAt(text: string, cuts: number[]): string[] {
  const out: string[] = []
  let prev = 0
  for (const c of cuts) {
    out.push(text.slice(prev, c))
    prev = c
  }
  out.push(text.slice(prev))
  return out.filter((p) => p.length > 0)
}
