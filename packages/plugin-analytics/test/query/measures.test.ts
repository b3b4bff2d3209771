import t from 'tap'
import { formatUsd } from '@tollgate/core'
import { formatPicoUsd } from '../../src/query/measures.ts'

t.test('money formats exactly as core formats it, by digits instead of division', async (t) => {
  const values = [0n, 1n, 9n, 10n, 150_000n, 999_999_999_999n, 1_000_000_000_000n, 1_000_000_000_001n, 1_230_000_000_000n, 123_456_789_012_345_678_901n, 10n ** 30n]
  let x = 7n
  for (let i = 0; i < 200; i++) {
    x = (x * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n
    values.push(x >> BigInt(i % 60))
  }
  let differ = 0
  for (const v of [...values, ...values.map((v) => -v)]) if (formatPicoUsd(v) !== formatUsd(v)) differ++
  t.equal(differ, 0, `all ${values.length * 2} amounts format alike`)
  t.equal(formatPicoUsd(-1_500_000_000_000n), '-1.5')
  t.equal(formatPicoUsd(150_000n), '0.00000015')
})
