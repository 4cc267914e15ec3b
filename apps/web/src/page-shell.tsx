import { useEffect, useState } from 'react'
import type { ReactNode } from 'react'
import { MESSAGES } from './messages.ts'
import type { Locale, Messages } from './messages.ts'

/** The card every page sits in: its title, the language switch, and the page's own content. */
export function PageShell(props: {
  title: (t: Messages) => string
  children: (t: Messages, locale: Locale) => ReactNode
}) {
  const [locale, setLocale] = useState<Locale>('zh-CN')
  const t = MESSAGES[locale]
  useEffect(() => {
    document.documentElement.lang = locale
  }, [locale])
  return (
    <main className="page">
      <div className="card">
        <div className="card-head">
          <h1>{props.title(t)}</h1>
          <button
            type="button"
            className="link-button"
            lang={locale === 'zh-CN' ? 'en' : 'zh-CN'}
            onClick={() => setLocale(locale === 'zh-CN' ? 'en' : 'zh-CN')}
          >
            {t.switchLanguage}
          </button>
        </div>
        {props.children(t, locale)}
      </div>
    </main>
  )
}
