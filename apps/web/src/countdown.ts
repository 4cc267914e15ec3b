import { useCallback, useEffect, useState } from 'react'

/**
 * The seconds left of a countdown, re-rendered as they tick, and a setter that starts one of
 * `seconds` from now (or stops it with null). The clock is read where the countdown is started, so
 * its first render already shows the full count.
 */
export function useCountdown(): [secondsLeft: number, start: (seconds: number | null) => void] {
  const [end, setEnd] = useState<number | null>(null)
  const [now, setNow] = useState(0)
  useEffect(() => {
    if (end === null) return
    const timer = setInterval(() => setNow(Date.now()), 250)
    return () => clearInterval(timer)
  }, [end])
  const start = useCallback((seconds: number | null) => {
    const startedAt = Date.now()
    setNow(startedAt)
    setEnd(seconds === null ? null : startedAt + seconds * 1000)
  }, [])
  return [end === null ? 0 : Math.max(0, Math.ceil((end - now) / 1000)), start]
}
