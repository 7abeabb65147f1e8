import { SessionManagerError, BackendUnavailableError as Shared } from '@otp-chat/session-manager';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError } from '../src/index.ts';

describe('BackendUnavailableError is the session manager’s, re-exported under its old name', () => {
  it('is the same class, so instanceof works across packages', () => {
    expect(BackendUnavailableError).toBe(Shared);
    const cause = new Error('ECONNREFUSED');
    const e = new BackendUnavailableError('redis', 'getSessions', { cause });
    expect(e).toBeInstanceOf(Shared);
    expect(e).toBeInstanceOf(SessionManagerError);
    expect(e).toMatchObject({
      name: 'BackendUnavailableError',
      backend: 'redis',
      operation: 'getSessions',
      cause,
    });
    expect(e.message).toBe('session backend redis is unavailable (getSessions)');
  });
});
