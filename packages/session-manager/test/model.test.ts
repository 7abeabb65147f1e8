import { MemoryBackend } from '../src/MemoryBackend.ts';
import { sessionManagerModel } from '../src/testing/index.ts';

/** fast-check runs; `SM_MODEL_RUNS=5000` (say) for a long run. */
const RUNS = Number(process.env.SM_MODEL_RUNS ?? 500);

// The model-based test (src/testing/sessionManagerModel.ts: `ejabberd_sm:do_route/1`, `route_message/1`,
// `check_for_sessions_to_replace/4`, `check_max_sessions/2`) on
// the memory backend: runs of 1 to 60 commands on two hosts, a fresh store per run.
sessionManagerModel('MemoryBackend', {
  createBackend: () => new MemoryBackend(),
  numRuns: RUNS,
  commands: 60,
  timeoutMs: 20_000 + RUNS * 50,
});
