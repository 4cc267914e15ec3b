/**
 * The part of a key that Redis Cluster hashes to choose its slot: the text between the first `{`
 * and the first `}` after it when that is not empty, else the whole key (the Redis Cluster
 * specification's rule). Keys with the same hashed part are on the same slot.
 */
export function hashedPart(key: string): string {
  const open = key.indexOf('{')
  if (open === -1) return key
  const close = key.indexOf('}', open + 1)
  return close > open + 1 ? key.slice(open + 1, close) : key
}

/**
 * Why a key prefix cannot be used, or null. Every key is stored as prefix + key, so a `{` in the
 * prefix would open the hash tag itself: keys meant to share a slot would not, and one key's tag
 * could swallow the rest of its name.
 */
export function keyPrefixProblem(prefix: string): string | null {
  return prefix.includes('{')
    ? 'must not contain "{": the prefix goes before every key, so a "{" in it would take the place of the keys\' own Redis Cluster hash tags'
    : null
}
