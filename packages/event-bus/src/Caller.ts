/**
 * Who executes a command (ejabberd's `CallerInfo`, reduced to what the policy check needs).
 *
 * - `local`: trusted in-process code or a local control tool (ejabberdctl's position).
 * - `admin`: an authenticated server administrator coming through a front end (HTTP, admin UI).
 * - `user`: an authenticated ordinary user acting on their own account.
 * - `anonymous`: an unauthenticated front-end request.
 */
export type Caller =
  | { readonly kind: 'local' }
  | { readonly kind: 'admin'; readonly user: string; readonly host: string }
  | { readonly kind: 'user'; readonly user: string; readonly host: string }
  | { readonly kind: 'anonymous' };

/** The four command policies of `ejabberd_commands` (`#ejabberd_commands{policy}`). */
export type CommandPolicy = 'open' | 'restricted' | 'admin' | 'user';

/** The caller kinds, for tables and documentation. */
export type CallerKind = Caller['kind'];

/**
 * Which caller kinds each policy admits (`ejabberd_access_permissions:can_access/2`). ejabberd delegates this to
 * `ejabberd_access_permissions` and its `api_permissions` configuration; this is the fixed default:
 *
 * | policy       | local | admin | user              | anonymous |
 * |--------------|-------|-------|-------------------|-----------|
 * | `open`       | yes   | yes   | yes               | yes       |
 * | `restricted` | yes   | no    | no                | no        |
 * | `admin`      | yes   | yes   | no                | no        |
 * | `user`       | yes   | yes   | own account only  | no        |
 *
 * For `user`, a `user` caller gets `user` and `host` injected from the caller; `local` and `admin`
 * callers pass them explicitly (as ejabberdctl does).
 */
export const POLICY_TABLE: Readonly<Record<CommandPolicy, readonly CallerKind[]>> = {
  open: ['local', 'admin', 'user', 'anonymous'],
  restricted: ['local'],
  admin: ['local', 'admin'],
  user: ['local', 'admin', 'user'],
};

/** True when `caller` may execute a command of `policy` (before the own-account check of `user`). */
export function policyAdmits(policy: CommandPolicy, caller: Caller): boolean {
  return POLICY_TABLE[policy].includes(caller.kind);
}
