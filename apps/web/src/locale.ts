import { useSyncExternalStore } from 'react'
import type { Locale } from './messages.ts'

const listeners = new Set<() => void>()

function subscribe(listener: () => void): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

const fromUrl = (): Locale =>
  new URLSearchParams(window.location.search).get('lang') === 'en' ? 'en' : 'zh-CN'

/** The prerendered HTML is zh-CN, the default, as the original's users expect. */
const DEFAULT_LOCALE = (): Locale => 'zh-CN'

function setLocale(locale: Locale): void {
  const url = new URL(window.location.href)
  if (locale === 'en') url.searchParams.set('lang', 'en')
  else url.searchParams.delete('lang')
  // The router's own state is kept: only the address changes.
  window.history.replaceState(window.history.state, '', url)
  for (const listener of listeners) listener()
}

/**
 * The pages' language, kept in the address (`?lang=en`), so that a reload and the links between
 * the pages (pageHref) keep the visitor's choice. The prerendered HTML is always zh-CN; a page
 * opened with `?lang=en` switches to English as it hydrates.
 */
export function useLocale(): [Locale, (locale: Locale) => void] {
  return [useSyncExternalStore(subscribe, fromUrl, DEFAULT_LOCALE), setLocale]
}

/** The address of another page, in this language. */
export function pageHref(path: string, locale: Locale): string {
  return locale === 'en' ? `${path}?lang=en` : path
}
