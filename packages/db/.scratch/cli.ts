import pg from 'pg'
const max = Number(process.argv[2] ?? 5)
const pool = new pg.Pool({ host: '127.0.0.1', port: 45432, user: 'postgres', database: 'postgres', max })
let wrong = 0, failed = 0, expectedFail = 0
const errs = new Map<string, number>()
const big = 'x'.repeat(100000)
const t0 = Date.now()
const tasks = Array.from({ length: 2000 }, async (_, i) => {
  try {
    if (i % 7 === 0) {
      try { await pool.query('insert into t (v) values ($1)', [-1]); wrong++ } catch (e) { if ((e as any).code === '23514') expectedFail++; else throw e }
      return
    }
    const y = (i % 5 === 0 ? big : '') + 's' + i
    const r = await pool.query('select $1::int as x, $2::text as y', [i, y])
    if (r.rows[0].x !== i || r.rows[0].y !== y) wrong++
  } catch (e) { failed++; const m = String((e as Error).message); errs.set(m, (errs.get(m) ?? 0) + 1) }
})
const t = setTimeout(() => { console.log('HANG', { wrong, failed, expectedFail }); process.exit(2) }, 60000)
await Promise.all(tasks)
clearTimeout(t)
console.log({ max, wrong, failed, expectedFail, errs, ms: Date.now() - t0 })
await pool.end()
