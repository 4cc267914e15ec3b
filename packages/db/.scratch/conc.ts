import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
import pg from 'pg'

const max = Number(process.argv[2] ?? 5)
const db = await PGlite.create('memory://')
await db.exec(`create table t (id serial primary key, v int not null check (v >= 0))`)
const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1', maxConnections: 10 })
await server.start()
const port = Number(server.getServerConn().split(':')[1])
const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', max })
let wrong = 0, failed = 0, expectedFail = 0
const errs = new Map<string, number>()
const tasks = Array.from({ length: 300 }, async (_, i) => {
  try {
    if (i % 7 === 0) {
      try { await pool.query('insert into t (v) values ($1)', [-1]); wrong++ } catch (e) { if ((e as any).code === '23514') expectedFail++; else throw e }
      return
    }
    const r = await pool.query('select $1::int as x, $2::text as y', [i, 's' + i])
    if (r.rows[0].x !== i || r.rows[0].y !== 's' + i) wrong++
  } catch (e) { failed++; const m = String((e as Error).message); errs.set(m, (errs.get(m) ?? 0) + 1) }
})
const t = setTimeout(() => { console.log('HANG', { wrong, failed, expectedFail }, server.getStats()); process.exit(2) }, 20000)
await Promise.all(tasks)
clearTimeout(t)
console.log({ max, wrong, failed, expectedFail, errs })
await pool.end(); await server.stop(); await db.close()
