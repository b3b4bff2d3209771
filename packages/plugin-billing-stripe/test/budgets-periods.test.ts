import t from 'tap'
import { localDate, localMidnight, periodBounds } from '@tollgate/plugin-billing-stripe'
import { PeriodClock } from '../src/budgets/periods.ts'

t.test('periods start at local midnight in the organization timezone', async (t) => {
  // 2026-11-22 23:30 UTC is already the 23rd in Paris (UTC+1) and still the 22nd in New York.
  const at = new Date('2026-11-22T23:30:00Z')
  t.same(periodBounds('day', at, 'Europe/Paris'), { start: new Date('2026-11-22T23:00:00Z'), end: new Date('2026-11-23T23:00:00Z') })
  t.same(periodBounds('day', at, 'America/New_York'), { start: new Date('2026-11-22T05:00:00Z'), end: new Date('2026-11-23T05:00:00Z') })
  t.same(periodBounds('day', at, 'UTC'), { start: new Date('2026-11-22T00:00:00Z'), end: new Date('2026-11-23T00:00:00Z') })
  t.same(periodBounds('month', new Date('2026-11-30T23:30:00Z'), 'Asia/Tokyo'), { start: new Date('2026-11-30T15:00:00Z'), end: new Date('2026-12-31T15:00:00Z') }, 'already December in Tokyo')
  t.same(periodBounds('month', new Date('2026-11-30T23:30:00Z'), 'UTC'), { start: new Date('2026-11-01T00:00:00Z'), end: new Date('2026-12-01T00:00:00Z') }, 'still November in UTC')
  t.same(periodBounds('week', at, 'Europe/Paris'), { start: new Date('2026-11-22T23:00:00Z'), end: new Date('2026-11-29T23:00:00Z') }, 'weeks start on Monday (the 23rd)')
  t.equal(localDate(at, 'Europe/Paris'), '2026-11-23')
})

t.test('DST days are 23 and 25 hours long', async (t) => {
  const spring = periodBounds('day', new Date('2026-03-29T12:00:00Z'), 'Europe/Paris')
  t.equal(spring.end.getTime() - spring.start.getTime(), 23 * 3600_000)
  const autumn = periodBounds('day', new Date('2026-10-25T12:00:00Z'), 'Europe/Paris')
  t.equal(autumn.end.getTime() - autumn.start.getTime(), 25 * 3600_000)
  // Where midnight does not exist (Santiago skips 00:00–01:00 in September), the day starts at 01:00.
  t.same(localMidnight(2026, 9, 6, 'America/Santiago'), new Date('2026-09-06T04:00:00Z'))
})

t.test('the period clock rolls over at local midnight: a fresh allowance', async (t) => {
  let now = new Date('2026-11-22T22:59:59Z').getTime()
  const clock = new PeriodClock(() => now)
  const before = clock.current('day', 'Europe/Paris')
  t.same(before.start, new Date('2026-11-21T23:00:00Z'))
  now += 1000 // 00:00:00 in Paris
  const after = clock.current('day', 'Europe/Paris')
  t.same(after.start, new Date('2026-11-22T23:00:00Z'), 'a new period (and so a new counter) starts at midnight')
  t.not(after, before)
})
