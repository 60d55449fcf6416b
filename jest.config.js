/** @type {import('jest').Config} */
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    // Type checking is `npm run typecheck`'s job; ts-jest only transpiles, which keeps the suite fast.
    '^.+\\.ts$': ['ts-jest', { useESM: true, isolatedModules: true, diagnostics: false }],
  },
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testTimeout: 60_000,
  // A web3.js Connection whose subscription socket was open when a test stopped its chain reconnects to it for
  // ever (rpc-websockets, max_reconnects Infinity): once every test has finished, jest exits rather than wait on it.
  forceExit: true,
  collectCoverageFrom: ['src/**/*.ts'],
  coverageReporters: ['text-summary', 'lcov'],
  // The seed's own bar; tests assert behaviour, the threshold only catches untested code landing.
  coverageThreshold: { global: { lines: 90 } },
};
