import { MemoryBackend } from '../src/MemoryBackend.ts';
import { sessionManagerModel } from '../src/testing/index.ts';

/** fast-check runs; `SM_MODEL_RUNS=5000` (say) for a long run. */
const RUNS = Number(process.env.SM_MODEL_RUNS ?? 500);

// The model-based test (src/testing/sessionManagerModel.ts: spec §3.2 rows 3 and 5, §3.3, §4) on
// the memory backend: runs of 1 to 60 commands on two hosts, a fresh store per run.
sessionManagerModel('MemoryBackend', {
  createBackend: () => new MemoryBackend(),
  numRuns: RUNS,
  commands: 60,
  timeoutMs: 20_000 + RUNS * 50,
});
