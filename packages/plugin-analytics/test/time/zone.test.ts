import t from 'tap'
import { decompose } from '../../src/time/decompose.ts'
import { dayStartsBetween, hourStartsBetween, localToUtc } from '../../src/time/zone.ts'

t.test('local day starts are exact UTC instants on DST days and quarter-hour zones', async (t) => {
  t.equal(new Date(localToUtc('America/New_York', 2026, 3, 8)).toISOString(), '2026-03-08T05:00:00.000Z')
  t.equal(new Date(localToUtc('America/New_York', 2026, 3, 9)).toISOString(), '2026-03-09T04:00:00.000Z', 'the day after spring forward starts an hour earlier in UTC')
  t.equal(new Date(localToUtc('America/New_York', 2026, 11, 1, 1)).toISOString(), '2026-11-01T05:00:00.000Z', 'the repeated 01:00 is its first occurrence')
  t.equal(new Date(localToUtc('America/New_York', 2026, 3, 8, 2)).toISOString(), '2026-03-08T07:00:00.000Z', 'the skipped 02:00 starts at the transition')
  t.equal(new Date(localToUtc('Asia/Kathmandu', 2026, 6, 1)).toISOString(), '2026-05-31T18:15:00.000Z')
  t.equal(new Date(localToUtc('Asia/Kolkata', 2026, 6, 1)).toISOString(), '2026-05-31T18:30:00.000Z')
  t.equal(new Date(localToUtc('Australia/Lord_Howe', 2026, 4, 6)).toISOString(), '2026-04-05T13:30:00.000Z', 'after the half-hour DST end')
  const days = dayStartsBetween('Australia/Lord_Howe', Date.parse('2026-04-04T13:00:00Z'), Date.parse('2026-04-06T13:30:00Z'))
  t.same(
    days.map((d) => new Date(d).toISOString()),
    ['2026-04-05T13:30:00.000Z'],
    'a 24.5-hour day',
  )
})

t.test('hour buckets: 23 on spring forward, 25 on fall back', async (t) => {
  const ny = (a: string, b: string) => hourStartsBetween('America/New_York', Date.parse(a), Date.parse(b)).length + 1
  t.equal(ny('2026-03-08T05:00:00Z', '2026-03-09T04:00:00Z'), 23)
  t.equal(ny('2026-11-01T04:00:00Z', '2026-11-02T05:00:00Z'), 25)
})

t.test('decomposition covers every interval exactly once with the coarsest rows', async (t) => {
  const b = [Date.parse('2026-03-08T05:00:00Z'), Date.parse('2026-03-09T04:00:00Z'), Date.parse('2026-03-10T04:00:00Z')]
  const ranges = decompose(b)
  let covered = 0
  for (const r of ranges) {
    t.equal(r.start % (r.grain * 1000), 0, 'ranges start on their grain')
    covered += r.end - r.start
  }
  t.equal(covered, b[2] - b[0], 'no gap, no overlap')
  t.ok(ranges.length <= 6, `few ranges for two days (${ranges.length})`)
  const kathmandu = decompose([Date.parse('2026-05-31T18:15:00Z'), Date.parse('2026-06-01T18:15:00Z')])
  t.same(
    kathmandu.map((r) => r.grain).sort((a, b) => a - b),
    [900, 900, 3600, 21_600],
    '+5:45, sums and maxima: 18:15-19:00 in quarters, 19:00-24:00 in hours, 00:00-18:00 in 6-hour rows, 18:00-18:15 a quarter',
  )
  const signed = decompose([Date.parse('2026-05-31T18:15:00Z'), Date.parse('2026-06-01T18:15:00Z')], true)
  t.same(
    signed.map((r) => [r.grain, r.sign, new Date(r.start).toISOString().slice(11, 16)]).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    [
      [21_600, -1, '18:00'],
      [21_600, 1, '18:00'],
      [86_400, 1, '00:00'],
      [900, -1, '18:00'],
      [900, 1, '18:00'],
    ].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    '+5:45, sums: the 6-hour block 18-24 minus its first quarter, then the next day minus the same',
  )
  const parisDays = decompose([Date.parse('2026-06-01T22:00:00Z'), Date.parse('2026-06-02T22:00:00Z'), Date.parse('2026-06-03T22:00:00Z')], true)
  t.equal(parisDays.length, 6, 'Paris (+2): each local day is the UTC day minus its last two hours plus the previous day\'s')
})

