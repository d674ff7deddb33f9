import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['extension/test/unit/**/*.test.ts'],
    environment: 'node',
  },
});
