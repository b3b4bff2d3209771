import t from 'tap'
import { matches, parseFilter } from '../src/scim/scim-filter.js'
import { filterToSql } from '../src/scim/scim-filter-sql.js'
import { applyPatch } from '../src/scim/scim-patch.js'

t.test('parses the RFC 7644 examples', async (t) => {
  t.same(parseFilter('userName Eq "john"'), { kind: 'compare', op: 'eq', path: 'username', value: 'john' })
  t.same(parseFilter('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"'), { kind: 'compare', op: 'sw', path: 'username', value: 'J' })
  t.same(parseFilter('title pr'), { kind: 'pr', path: 'title' })
  t.same(parseFilter('meta.lastModified gt "2011-05-13T04:42:34Z"'), { kind: 'compare', op: 'gt', path: 'meta.lastmodified', value: '2011-05-13T04:42:34Z' })
  const f = parseFilter('title pr and userType eq "Employee" or userType eq "Intern"')
  t.equal(f.kind, 'or', 'and binds tighter than or')
  const g = parseFilter('userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")')
  t.equal(g.kind, 'and')
  t.same(parseFilter('emails[type eq "work" and value co "@example.com"]'), {
    kind: 'valuePath',
    path: 'emails',
    filter: { kind: 'and', left: { kind: 'compare', op: 'eq', path: 'type', value: 'work' }, right: { kind: 'compare', op: 'co', path: 'value', value: '@example.com' } },
  })
  t.same(parseFilter('not (active eq false)'), { kind: 'not', expr: { kind: 'compare', op: 'eq', path: 'active', value: false } })
  t.same(parseFilter('displayName eq "say \\"hi\\""'), { kind: 'compare', op: 'eq', path: 'displayname', value: 'say "hi"' })
})

t.test('refuses malformed filters with invalidFilter', async (t) => {
  for (const bad of ['', 'userName', 'userName eq', 'userName eq "x', 'userName zz "x"', '(userName eq "x"', 'userName eq "x")', 'a.b.c eq "x"', 'not userName eq "x"', `${'('.repeat(40)}a pr${')'.repeat(40)}`, 'x'.repeat(5000)]) {
    t.throws(() => parseFilter(bad), { code: 'TOLLGATE_ERR_SCIM_INVALID_FILTER' }, JSON.stringify(bad.slice(0, 30)))
  }
})

t.test('evaluates in memory (PATCH value paths)', async (t) => {
  const email = { value: 'A@Example.com', type: 'work', primary: true }
  t.ok(matches(email, parseFilter('value eq "a@example.com"')))
  t.ok(matches(email, parseFilter('type eq "work" and primary eq true')))
  t.notOk(matches(email, parseFilter('type eq "home" or not (primary eq true)')))
  t.ok(matches({ emails: [email] }, parseFilter('emails[type eq "work"]')))
  t.ok(matches({ emails: [email] }, parseFilter('emails co "example"')))
})

t.test('compiles to parameterised SQL, never splicing values', async (t) => {
  const attrs = { username: { kind: 'string' as const, sql: 'u.user_name' } }
  const { sql, params } = filterToSql(parseFilter(`userName eq "x' or 1=1 --" or userName co "50%"`), attrs)
  t.equal(sql, "(lower(u.user_name) = ? or lower(u.user_name) like ? escape '\\')")
  t.same(params, ["x' or 1=1 --", '%50\\%%'])
  t.throws(() => filterToSql(parseFilter('password eq "x"'), attrs), { code: 'TOLLGATE_ERR_SCIM_INVALID_FILTER' })
})

t.test('applies PATCH operations', async (t) => {
  const schema = { names: { displayname: 'displayName', emails: 'emails', name: 'name', active: 'active' }, multi: new Set(['emails']), complex: new Set(['name']) }
  const user = { displayName: 'A', name: { givenName: 'a' }, emails: [{ value: 'a@x.com', type: 'work' }], active: true }
  const out = applyPatch(
    user,
    [
      { op: 'add', path: 'emails', value: [{ value: 'b@x.com', type: 'home' }] },
      { op: 'replace', path: 'emails[type eq "work"].value', value: 'c@x.com' },
      { op: 'replace', path: 'name.familyName', value: 'z' },
      { op: 'remove', path: 'displayName' },
      { op: 'add', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', value: 'ignored' },
    ],
    schema,
  )
  t.same(out, { name: { givenName: 'a', familyName: 'z' }, emails: [{ value: 'c@x.com', type: 'work' }, { value: 'b@x.com', type: 'home' }], active: true })
  t.same(user.emails, [{ value: 'a@x.com', type: 'work' }], 'the input is not modified')
  t.throws(() => applyPatch(user, [{ op: 'move', path: 'active' }], schema), { code: 'TOLLGATE_ERR_SCIM_INVALID_VALUE' })
  t.throws(() => applyPatch(user, [{ op: 'replace', path: 'emails[type eq "home" or type eq "x"].value', value: 'q' }], schema), /matches nothing/)
  t.throws(() => applyPatch(user, [], schema), /non-empty/)
})
