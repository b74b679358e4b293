/** HTTP statuses after which trying again may help (the gateway's and a REST proxy's answers alike). */
export const RETRIABLE_HTTP = new Set([408, 425, 429, 500, 502, 503, 504])
