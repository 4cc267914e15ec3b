import { Head, Html, Main, NextScript } from 'next/document'

/** The HTML shell of every page: zh-CN is the default language, as the original's users expect. */
export default function Document() {
  return (
    <Html lang="zh-CN">
      <Head />
      <body>
        <Main />
        <NextScript />
      </body>
    </Html>
  )
}
