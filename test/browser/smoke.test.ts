import { expect, it } from 'vitest'
it('runs in chromium', () => {
  expect(typeof window).toBe('object')
  expect(navigator.userAgent).toMatch(/Chrome/)
})
