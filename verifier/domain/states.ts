/**
 * Token states and the one rule that moves a token between them: a table, per state, of what verification
 * answers in that state and which events may move the token where. The service (setState), the verification
 * rules (lockout, the gate before a code is checked) and nothing else consult it.
 *
 *   state     verify/resync  enable        disable    unlock               lost   revoke   lockout
 *   active    checks the code active        disabled   active, resets       lost   revoked  locked
 *   disabled  disabled       by failures   disabled   disabled, resets     lost   revoked  -
 *   locked    locked         locked        disabled   active, resets       lost   revoked  -
 *   lost      disabled       by failures   disabled   -                    lost   revoked  -
 *   revoked   disabled       -             -          -                    -      -        -
 *
 * "resets" clears the failure count and the back-off; "by failures" is locked when the failure count has
 * reached the policy's maxFailures (NIST SP 800-63B 5.2.2), else active; "-" refuses the event
 * (INVALID_TRANSITION). `lost` is a token that stopped verifying until it is found again (enable) or replaced
 * (revoke); `revoked` is terminal: it never verifies again and no event leaves it. Verify answers `disabled`
 * for both (the audit entry names the state), so a caller learns no more than that the token does not work.
 *
 * An administrator's event records its reason (stateReason); entering lost stamps lostAtMs (cleared when the
 * token leaves lost), entering revoked stamps revokedAtMs.
 *
 * Extending: add the state to TOKEN_STATES and its row here (a terminal state is a row with no events), add
 * its events to TOKEN_EVENTS with who raises them, and widen the CHECK on tokens.state in
 * a new migration (store/migrations.ts). The compiler then asks for every row and answer that is missing.
 */
import { dynamicOf, type Policy, type TokenDynamic } from './types.ts';

export const TOKEN_STATES = ['active', 'disabled', 'locked', 'lost', 'revoked'] as const;
export type TokenStateName = (typeof TOKEN_STATES)[number];

/** The events that change a token's state, and who raises each: an administrator, or verification itself. */
export const TOKEN_EVENTS = {
  enable: 'admin',
  disable: 'admin',
  unlock: 'admin',
  lost: 'admin',
  revoke: 'admin',
  lockout: 'verification',
} as const;
export type TokenEvent = keyof typeof TOKEN_EVENTS;
export type AdminEvent = { [E in TokenEvent]: (typeof TOKEN_EVENTS)[E] extends 'admin' ? E : never }[TokenEvent];

/** Where an event takes a token: a state, or `by-failures` (see the module comment). */
type Target = TokenStateName | 'by-failures';

interface Transition {
  readonly to: Target;
  /** Clears failCount and throttledUntilMs. */
  readonly resetFailures?: true;
}

interface StateRule {
  /** What verify and resync answer without checking the code, or `check`. */
  readonly verify: 'check' | 'disabled' | 'locked';
  /** The events allowed in this state; any other is refused. */
  readonly on: { readonly [E in TokenEvent]?: Transition };
}

export const STATE_RULES: { readonly [S in TokenStateName]: StateRule } = {
  active: {
    verify: 'check',
    on: { enable: { to: 'active' }, disable: { to: 'disabled' }, unlock: { to: 'active', resetFailures: true }, lost: { to: 'lost' }, revoke: { to: 'revoked' }, lockout: { to: 'locked' } },
  },
  disabled: {
    verify: 'disabled',
    on: { enable: { to: 'by-failures' }, disable: { to: 'disabled' }, unlock: { to: 'disabled', resetFailures: true }, lost: { to: 'lost' }, revoke: { to: 'revoked' } },
  },
  locked: {
    verify: 'locked',
    on: { enable: { to: 'locked' }, disable: { to: 'disabled' }, unlock: { to: 'active', resetFailures: true }, lost: { to: 'lost' }, revoke: { to: 'revoked' } },
  },
  lost: {
    verify: 'disabled',
    on: { enable: { to: 'by-failures' }, disable: { to: 'disabled' }, lost: { to: 'lost' }, revoke: { to: 'revoked' } },
  },
  revoked: {
    verify: 'disabled',
    on: {},
  },
};

/** What an administrator's event records beside the state: when, and why. */
export interface TransitionContext {
  nowMs: number;
  reason: string | null;
}

/** True when the table lets `event` move a token in `state`. */
export function allows(state: TokenStateName, event: TokenEvent): boolean {
  return STATE_RULES[state].on[event] !== undefined;
}

/**
 * The token's dynamic state after `event` (a new object; the input is not changed), or null when the token's
 * state refuses the event.
 */
export function transition(t: TokenDynamic, event: TokenEvent, policy: Pick<Policy, 'maxFailures'>, ctx?: TransitionContext): TokenDynamic | null {
  const step = STATE_RULES[t.state].on[event];
  if (!step) return null;
  const next = dynamicOf(t);
  if (step.resetFailures) {
    next.failCount = 0;
    next.throttledUntilMs = 0;
  }
  next.state = step.to === 'by-failures' ? (next.failCount >= policy.maxFailures ? 'locked' : 'active') : step.to;
  if (ctx && TOKEN_EVENTS[event] === 'admin') {
    next.stateReason = ctx.reason;
    if (next.state === 'lost' && t.state !== 'lost') next.lostAtMs = ctx.nowMs;
    if (next.state !== 'lost') next.lostAtMs = null;
    if (next.state === 'revoked') next.revokedAtMs = ctx.nowMs;
  }
  return next;
}
