/** Thin resolvers: check the caller and the arguments, then hand over to the services. */
import { type Identity, requireAccess, requireIdentity } from '../auth/identity.js';
import { badInput } from '../errors.js';
import {
  checkExpectedVersion,
  checkField,
  checkRequestId,
  checkTransactionId,
  checkUserName,
  checkValue,
} from '../domain/limits.js';
import type { RoomView } from '../domain/room.js';
import type { GraphQLContext } from '../schema/builder.js';

type Maybe<T> = T | null | undefined;

function authorize(ctx: GraphQLContext, transactionId: string): { identity: Identity; transactionId: string } {
  const identity = requireIdentity(ctx.identity, ctx.authFailure);
  const id = checkTransactionId(transactionId, ctx.limits);
  requireAccess(identity, id);
  return { identity, transactionId: id };
}

export function conflictRoom(args: { transactionId: string }, ctx: GraphQLContext): Promise<RoomView> {
  const { transactionId } = authorize(ctx, args.transactionId);
  return ctx.rooms.room(transactionId);
}

/** The contract's bounds on a history page. */
export const historyPageMax = 500;

export async function conflictRoomHistory(
  args: { transactionId: string; afterVersion?: Maybe<number>; first?: Maybe<number> },
  ctx: GraphQLContext,
) {
  const { transactionId } = authorize(ctx, args.transactionId);
  const afterVersion = args.afterVersion ?? 0;
  const first = args.first ?? 100;
  if (afterVersion < 0) throw badInput('afterVersion must be 0 or more', 'afterVersion');
  if (first < 1 || first > historyPageMax) throw badInput(`first must be from 1 to ${historyPageMax}`, 'first');
  const page = await ctx.rooms.history(transactionId, afterVersion, first);
  return { transactionId, epoch: page.epoch, events: page.events, hasMore: page.hasMore };
}

export function joinConflictRoom(args: { transactionId: string; userName?: Maybe<string> }, ctx: GraphQLContext) {
  const { identity, transactionId } = authorize(ctx, args.transactionId);
  const userName = args.userName != null ? checkUserName(args.userName, ctx.limits) : nameFromIdentity(identity, ctx);
  return ctx.rooms.join(transactionId, identity.userId, userName);
}

/** The credentials' name when it is a valid one, else the user id: a bad header must not block joining. */
function nameFromIdentity(identity: Identity, ctx: GraphQLContext): string {
  for (const candidate of [identity.name, identity.userId]) {
    if (candidate === undefined) continue;
    try {
      return checkUserName(candidate, ctx.limits);
    } catch {
      // try the next one
    }
  }
  return checkUserName(identity.userId.slice(0, ctx.limits.userNameMaxLength), ctx.limits, 'x-user-id');
}

export function leaveConflictRoom(args: { transactionId: string }, ctx: GraphQLContext) {
  const { identity, transactionId } = authorize(ctx, args.transactionId);
  return ctx.rooms.execute(transactionId, identity.userId, { kind: 'leave' });
}

interface FieldArgs {
  transactionId: string;
  field: string;
  expectedVersion?: Maybe<number>;
  requestId?: Maybe<string>;
}

export function selectField(args: FieldArgs & { value: string }, ctx: GraphQLContext) {
  const { identity, transactionId } = authorize(ctx, args.transactionId);
  const field = checkField(args.field, ctx.limits);
  const value = checkValue(args.value, ctx.limits);
  const expectedVersion = checkExpectedVersion(args.expectedVersion);
  const requestId = checkRequestId(args.requestId);
  return ctx.rooms.execute(
    transactionId,
    identity.userId,
    { kind: 'select', field, value, ...(expectedVersion !== undefined ? { expectedVersion } : {}) },
    requestId ? { requestId } : {},
  );
}

export function clearField(args: FieldArgs, ctx: GraphQLContext) {
  const { identity, transactionId } = authorize(ctx, args.transactionId);
  const field = checkField(args.field, ctx.limits);
  const expectedVersion = checkExpectedVersion(args.expectedVersion);
  const requestId = checkRequestId(args.requestId);
  return ctx.rooms.execute(
    transactionId,
    identity.userId,
    { kind: 'clear', field, ...(expectedVersion !== undefined ? { expectedVersion } : {}) },
    requestId ? { requestId } : {},
  );
}

export function setReady(args: { transactionId: string; isReady: boolean; requestId?: Maybe<string> }, ctx: GraphQLContext) {
  const { identity, transactionId } = authorize(ctx, args.transactionId);
  const requestId = checkRequestId(args.requestId);
  return ctx.rooms.execute(transactionId, identity.userId, { kind: 'setReady', isReady: args.isReady }, requestId ? { requestId } : {});
}

export async function conflictRoomEvents(args: { transactionId: string; afterVersion?: Maybe<number>; epoch?: Maybe<string> }, ctx: GraphQLContext) {
  const { identity, transactionId } = authorize(ctx, args.transactionId);
  // Each subscription may write presence: opening them counts like a change.
  await ctx.rateLimit(identity.userId);
  if (args.afterVersion != null && args.afterVersion < 0) throw badInput('afterVersion must be 0 or more', 'afterVersion');
  if (args.epoch != null && (args.epoch.length < 1 || args.epoch.length > 128)) throw badInput('epoch must be 1 to 128 characters', 'epoch');
  return ctx.openStream({
    transactionId,
    userId: identity.userId,
    ...(ctx.streamDeadline !== undefined ? { endsAt: ctx.streamDeadline } : {}),
    ...(args.afterVersion != null ? { afterVersion: args.afterVersion } : {}),
    ...(args.epoch != null ? { epoch: args.epoch } : {}),
  });
}
