import { MemoryBackend } from '../src/MemoryBackend.ts';
import { sessionManagerModel } from '../src/testing/index.ts';

// The model-based test (src/testing/sessionManagerModel.ts: do_route/1 to a full JID, route_message/1, replacement) on the
// memory backend: 1,000 runs of 50 commands, a fresh store per run.
sessionManagerModel('MemoryBackend', {
  createBackend: () => new MemoryBackend(),
  numRuns: 1000,
  commands: 50,
});
