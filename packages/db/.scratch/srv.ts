import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
const db = await PGlite.create('memory://')
await db.exec(`create table t (id serial primary key, v int not null check (v >= 0))`)
const server = new PGLiteSocketServer({ db, port: 45432, host: '127.0.0.1', maxConnections: 20 })
await server.start()
console.log('up')
process.on('SIGTERM', async () => { await server.stop(); await db.close(); process.exit(0) })
