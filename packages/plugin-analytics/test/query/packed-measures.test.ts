import t from 'tap'
import { PicoSum, readCounts } from '../../src/query/packed-measures.ts'

/** The in-place readers of a packed series row agree with BigInt and Number on the same texts. */

function lcg(seed: bigint) {
  let x = seed
  return () => {
    x = (x * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n
    return x
  }
}

t.test('readCounts reads ten counts and stops after the tenth comma', async (t) => {
  const counts = new Array<number>(10).fill(-1)
  const m = '1,0,-3,123456789012345,9007199254740993,42,7,8,9,10,55,66,0.1,0.2,-0.1'
  const at = readCounts(m, counts)
  t.same(counts, [1, 0, -3, 123456789012345, Number('9007199254740993'), 42, 7, 8, 9, 10], 'past 15 digits the whole text is parsed (rounded once)')
  t.equal(m.slice(at), '55,66,0.1,0.2,-0.1', 'the cost starts where it says')
})

t.test('PicoSum is the exact sum, across folds and in both signs', async (t) => {
  const next = lcg(7n)
  for (const width of [12, 18, 19, 30]) {
    const sum = new PicoSum()
    let exact = 0n
    const texts: string[] = []
    for (let i = 0; i < 5000; i++) {
      let v = next() % 10n ** BigInt(width)
      if (i % 7 === 3) v = -v
      texts.push(v.toString())
      exact += v
    }
    const m = texts.join(',')
    let at = 0
    for (let i = 0; i < texts.length; i++) at = sum.addText(m, at)
    t.equal(at, m.length + 1, `${width} digits: every amount read`)
    t.equal(sum.value(), exact, `${width} digits: the exact sum`)
    const other = new PicoSum()
    other.addSum(sum)
    other.addSum(sum)
    t.equal(other.value(), 2n * exact, 'sums add into sums')
    other.reset()
    t.equal(other.value(), 0n, 'reset')
  }
})
