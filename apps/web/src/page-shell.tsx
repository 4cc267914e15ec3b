import Head from 'next/head'
import { useEffect } from 'react'
import type { ReactNode } from 'react'
import { useLocale } from './locale.ts'
import { MESSAGES } from './messages.ts'
import type { Locale, Messages } from './messages.ts'

/**
 * The card every page sits in: its title (the `<title>` too, in the page's language, and the
 * description), the language switch, and the page's own content.
 */
export function PageShell(props: {
  title: (t: Messages) => string
  description: string
  children: (t: Messages, locale: Locale) => ReactNode
}) {
  const [locale, setLocale] = useLocale()
  const t = MESSAGES[locale]
  useEffect(() => {
    // Lets `pnpm bench` tell when the page became interactive: its handlers answer input.
    performance.mark('signup:hydrated')
  }, [])
  useEffect(() => {
    document.documentElement.lang = locale
  }, [locale])
  return (
    <main className="page">
      <Head>
        <title>{props.title(t)}</title>
        <meta name="description" content={props.description} />
      </Head>
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
