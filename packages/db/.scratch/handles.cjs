const t = setTimeout(() => {
  const hs = process._getActiveHandles().map((h) => h.constructor.name + (h.remotePort ? ':' + h.remoteAddress + ':' + h.remotePort : '') + (h._idleTimeout ? ' timeout=' + h._idleTimeout : ''))
  require('fs').writeSync(2, 'HANDLES ' + JSON.stringify(hs) + '\n')
  require('fs').writeSync(2, 'REQS ' + JSON.stringify(process._getActiveRequests().map((h) => h.constructor.name)) + '\n')
}, 4000); t.unref()
