// The records GET /produce-many sends: a deterministic mix that a reader can rebuild from the index alone
// (keyed and null-keyed, binary and invalid-UTF-8 bytes, empty and null values, headers with null values and
// repeated names). The isokafka tests rebuild them to check a read-back byte for byte.

export type LoadHeaderValue = string | Uint8Array | null

export interface LoadRecord {
  key: string | Uint8Array | null
  value: string | Uint8Array | null
  headers: Array<[string, LoadHeaderValue]>
}

const utf8 = new TextEncoder()

export function loadRecord(i: number): LoadRecord {
  let key: LoadRecord['key']
  switch (i % 5) {
    case 0:
      key = null // sticky partitioning
      break
    case 1:
      key = new Uint8Array([0xff, 0x00, i % 7, 0x80]) // binary key, 7 distinct values
      break
    default:
      key = `user-${i % 97}`
  }

  let value: LoadRecord['value']
  if (i % 101 === 0)
    value = null // tombstone
  else if (i % 13 === 0) value = new Uint8Array(0)
  else if (i % 2 === 0) value = JSON.stringify({ i, event: 'page_view', path: `/p/${i % 31}`, note: 'é ✓' })
  else {
    const text = utf8.encode(`event-${i}:`)
    const bytes = new Uint8Array(text.length + 6 + (i % 40))
    bytes.set(text)
    bytes.set([0x00, 0xff, 0xc3, 0x28, 0x0a, i & 0xff], text.length) // NUL, invalid UTF-8, a newline
    for (let k = text.length + 6; k < bytes.length; k++) bytes[k] = (i * 31 + k) & 0xff
    value = bytes
  }

  const headers: LoadRecord['headers'] = []
  if (i % 3 !== 0) {
    headers.push(['seq', String(i)])
    if (i % 3 === 1)
      headers.push(
        ['bin', new Uint8Array([i & 0xff, 0x00, 0x80, 0xff])],
        ['nil', null],
        ['seq', 'repeated'],
        ['empty', ''],
      )
  }
  return { key, value, headers }
}
