import { MemoryBackend } from '../src/MemoryBackend.ts';
import { sessionManagerModel } from '../src/testing/index.ts';

// The model-based test (src/testing/sessionManagerModel.ts: spec §3.2 row 5, §3.3, §4) on the
// memory backend: 1,000 runs of 50 commands, a fresh store per run.
sessionManagerModel('MemoryBackend', {
  createBackend: () => new MemoryBackend(),
  numRuns: 1000,
  commands: 50,
});
