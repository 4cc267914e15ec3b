import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
import pg from 'pg'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const dir = '/tmp/pgl-exp-' + process.pid
const db = await PGlite.create(dir)
const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1', maxConnections: 10 })
await server.start()
console.log('conn', server.getServerConn())
const port = Number(server.getServerConn().split(':')[1])
for (const [user, database] of [['postgres', 'postgres'], ['foo', 'bar']]) {
  const c = new pg.Client({ host: '127.0.0.1', port, user, database })
  await c.connect()
  const r = await c.query('select current_user, current_database(), version()')
  console.log(user, database, r.rows)
  await c.end()
}
const url = `postgresql://postgres@127.0.0.1:${port}/postgres`
const t0 = Date.now()
const res = await promisify(execFile)(process.execPath, ['/work/main/node_modules/prisma/build/index.js', 'migrate', 'deploy'], { cwd: '/work/main', env: { ...process.env, DATABASE_URL: url }, encoding: 'utf8' }).catch((e) => e)
console.log('migrate', res.code, Date.now() - t0, res.stdout, res.stderr)
const res2 = await promisify(execFile)(process.execPath, ['/work/main/node_modules/prisma/build/index.js', 'migrate', 'deploy'], { cwd: '/work/main', env: { ...process.env, DATABASE_URL: url }, encoding: 'utf8' }).catch((e) => e)
console.log('migrate2', res2.code, res2.stdout)
console.log('stats', server.getStats())
await server.stop()
await db.close()
