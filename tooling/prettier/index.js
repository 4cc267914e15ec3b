/** @type {import("prettier").Config} */
export default { singleQuote: true, semi: false, trailingComma: 'all', printWidth: 100 }
