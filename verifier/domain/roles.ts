/**
 * API key roles and what each may do (docs/verifier.md "API keys"): `admin` may call every route, `verify` only
 * verification and resync. A route states the role it needs; `roleAllows` is the one rule that answers whether
 * a key's role covers it. Roles are persisted (api_keys.role), so names are never reused.
 */
export const API_ROLES = ['admin', 'verify'] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** For each role, the roles whose routes it may call. */
const GRANTS: { readonly [R in ApiRole]: readonly ApiRole[] } = {
  admin: ['admin', 'verify'],
  verify: ['verify'],
};

export function roleAllows(have: ApiRole, need: ApiRole): boolean {
  return GRANTS[have].includes(need);
}
