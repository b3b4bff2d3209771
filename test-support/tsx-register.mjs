// Loads tsx for the test run with the root tsconfig (the one that includes src and test of every
// package), so TypeScript sources of the workspace packages run without a build step.
import { register } from 'tsx/esm/api'

register({ tsconfig: new URL('../tsconfig.json', import.meta.url).pathname })
