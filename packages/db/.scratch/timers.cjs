const orig = global.setTimeout
global.setTimeout = function (fn, ms, ...a) {
  if (ms >= 3000) require('fs').writeSync(2, 'TIMER ' + ms + ' ' + new Error().stack.split('\n').slice(2, 6).join(' | ') + '\n')
  return orig.call(this, fn, ms, ...a)
}
