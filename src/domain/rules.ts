/**
 * The room's rules as one pure function: given the room and a command, the next room and the events
 * that lead there, or a DomainError. Both stores run exactly this; neither re-implements a rule.
 */
import { DomainError, ErrorCode } from '../errors.js';
import { makeAgreement } from './agreement.js';
import type { RoomEvent } from './events.js';
import type { Limits } from './limits.js';
import {
  allReady,
  compareFieldNames,
  type Instant,
  type ParticipantState,
  type PresenceMark,
  type RoomState,
  participantView,
  roomView,
} from './room.js';

/** A user's presence mark, for the presence command. */
export type UserPresence = PresenceMark & { userId: string };

export type RoomCommand =
  | { kind: 'join'; userName: string; /** the caller's presence in the room as counted before the join */ presence: PresenceMark }
  | { kind: 'leave' }
  | { kind: 'select'; field: string; value: string; expectedVersion?: number }
  | { kind: 'clear'; field: string; expectedVersion?: number }
  | { kind: 'setReady'; isReady: boolean }
  /**
   * Brings participants' `online` in line with their presence marks; users who are not participants
   * are skipped. `byServer`: the server caused it (a dead instance swept), so events carry no userId.
   */
  | { kind: 'presence'; marks: readonly UserPresence[]; byServer?: boolean };

export interface DecisionContext {
  userId: string;
  now: Instant;
  limits: Limits;
}

export interface Decision {
  room: RoomState;
  /** Empty when the command changes nothing a client can see. */
  events: RoomEvent[];
  /** False when the room is exactly as it was (nothing to write). */
  changed: boolean;
}

export function decide(room: RoomState, command: RoomCommand, ctx: DecisionContext): Decision {
  switch (command.kind) {
    case 'join':
      return join(room, command.userName, command.presence, ctx);
    case 'leave':
      return leave(room, ctx);
    case 'select':
      return select(room, command.field, command.value, command.expectedVersion, ctx);
    case 'clear':
      return clear(room, command.field, command.expectedVersion, ctx);
    case 'setReady':
      return setReady(room, command.isReady, ctx);
    case 'presence':
      return presence(room, command.marks, command.byServer === true, ctx);
  }
}

const unchanged = (room: RoomState): Decision => ({ room, events: [], changed: false });

function eventBase(room: RoomState, version: number, ctx: DecisionContext) {
  return { transactionId: room.transactionId, version, at: ctx.now, userId: ctx.userId };
}

function findParticipant(room: RoomState, userId: string): ParticipantState | undefined {
  return room.participants.find((p) => p.userId === userId);
}

function requireParticipant(room: RoomState, userId: string): ParticipantState {
  const participant = findParticipant(room, userId);
  if (!participant) {
    throw new DomainError(ErrorCode.NotAParticipant, 'Join the room (joinConflictRoom) before changing it.');
  }
  return participant;
}

function requireOpen(room: RoomState): void {
  if (room.status === 'RESOLVED') {
    throw new DomainError(ErrorCode.RoomResolved, 'The room is resolved: its selections are final.');
  }
}

function checkExpectedVersion(room: RoomState, field: string, expectedVersion: number | undefined): void {
  if (expectedVersion === undefined) return;
  const currentVersion = room.selections.find((s) => s.field === field)?.version ?? 0;
  if (currentVersion !== expectedVersion) {
    throw new DomainError(
      ErrorCode.VersionConflict,
      `The field "${field}" is at version ${currentVersion}, not ${expectedVersion}: reload it and decide again.`,
      { currentVersion },
    );
  }
}

/**
 * After a change the room may be resolved in the same step: one more event. The agreement is frozen
 * here, from the room at the RoomResolved version, so nothing that happens later can change it.
 */
function resolveIfAllReady(room: RoomState, events: RoomEvent[], ctx: DecisionContext): Decision {
  if (room.status !== 'OPEN' || !allReady(room.participants)) return { room, events, changed: true };
  const version = room.version + 1;
  const agreement = makeAgreement({
    transactionId: room.transactionId,
    epoch: room.epoch,
    version,
    resolvedAt: ctx.now,
    selections: room.selections,
    participants: room.participants.map((p) => participantView(room.transactionId, p)),
  });
  const resolved: RoomState = { ...room, version, status: 'RESOLVED', resolvedAt: ctx.now, agreement };
  events.push({ type: 'RoomResolved', ...eventBase(room, resolved.version, ctx), room: roomView(resolved) });
  return { room: resolved, events, changed: true };
}

function join(room: RoomState, userName: string, mark: PresenceMark, ctx: DecisionContext): Decision {
  if (findParticipant(room, ctx.userId)) return unchanged(room);
  // The participants of a resolved room are the record of who agreed: nobody joins or leaves it.
  requireOpen(room);
  if (room.participants.length >= ctx.limits.maxParticipants) {
    throw new DomainError(
      ErrorCode.LimitExceeded,
      `The room already has ${ctx.limits.maxParticipants} participants, the most it may have.`,
      { limit: ctx.limits.maxParticipants },
    );
  }
  const participant: ParticipantState = {
    userId: ctx.userId,
    name: userName,
    isReady: false,
    joinedAt: ctx.now,
    online: mark.online,
    presenceSeq: mark.seq,
  };
  const version = room.version + 1;
  return {
    room: { ...room, version, participants: [...room.participants, participant] },
    events: [{ type: 'ParticipantJoined', ...eventBase(room, version, ctx), participant: participantView(room.transactionId, participant) }],
    changed: true,
  };
}

function leave(room: RoomState, ctx: DecisionContext): Decision {
  const participant = findParticipant(room, ctx.userId);
  if (!participant) throw new DomainError(ErrorCode.NotAParticipant, 'You are not in this room.');
  requireOpen(room);
  const version = room.version + 1;
  const next: RoomState = { ...room, version, participants: room.participants.filter((p) => p !== participant) };
  const left: RoomEvent = {
    type: 'ParticipantLeft',
    ...eventBase(room, version, ctx),
    participant: participantView(room.transactionId, { ...participant, online: false }),
  };
  return resolveIfAllReady(next, [left], ctx);
}

function select(
  room: RoomState,
  field: string,
  value: string,
  expectedVersion: number | undefined,
  ctx: DecisionContext,
): Decision {
  const participant = requireParticipant(room, ctx.userId);
  requireOpen(room);
  checkExpectedVersion(room, field, expectedVersion);
  const current = room.selections.find((s) => s.field === field);
  if (current?.value === value) return unchanged(room);
  if (!current && room.selections.length >= ctx.limits.maxFields) {
    throw new DomainError(
      ErrorCode.LimitExceeded,
      `The room already has ${ctx.limits.maxFields} fields with a selection, the most it may have.`,
      { limit: ctx.limits.maxFields },
    );
  }
  const version = room.version + 1;
  const selection = { transactionId: room.transactionId, field, value, userId: ctx.userId, userName: participant.name, selectedAt: ctx.now, version };
  const selections = [...room.selections.filter((s) => s.field !== field), selection].sort((a, b) =>
    compareFieldNames(a.field, b.field),
  );
  const readinessReset = room.participants.some((p) => p.isReady);
  const participants = readinessReset ? room.participants.map((p) => ({ ...p, isReady: false })) : room.participants;
  return {
    room: { ...room, version, selections, participants },
    events: [{ type: 'FieldSelected', ...eventBase(room, version, ctx), selection, readinessReset }],
    changed: true,
  };
}

function clear(room: RoomState, field: string, expectedVersion: number | undefined, ctx: DecisionContext): Decision {
  requireParticipant(room, ctx.userId);
  requireOpen(room);
  checkExpectedVersion(room, field, expectedVersion);
  if (!room.selections.some((s) => s.field === field)) return unchanged(room);
  const version = room.version + 1;
  const readinessReset = room.participants.some((p) => p.isReady);
  const participants = readinessReset ? room.participants.map((p) => ({ ...p, isReady: false })) : room.participants;
  return {
    room: { ...room, version, selections: room.selections.filter((s) => s.field !== field), participants },
    events: [{ type: 'FieldCleared', ...eventBase(room, version, ctx), field, readinessReset }],
    changed: true,
  };
}

function setReady(room: RoomState, isReady: boolean, ctx: DecisionContext): Decision {
  const participant = requireParticipant(room, ctx.userId);
  requireOpen(room);
  if (participant.isReady === isReady) return unchanged(room);
  const updated = { ...participant, isReady };
  const version = room.version + 1;
  const next: RoomState = {
    ...room,
    version,
    participants: room.participants.map((p) => (p === participant ? updated : p)),
  };
  const changed: RoomEvent = { type: 'ReadinessChanged', ...eventBase(room, version, ctx), participant: participantView(room.transactionId, updated) };
  return resolveIfAllReady(next, [changed], ctx);
}

/**
 * Marks newer than what a participant has are taken; a flip of `online` is a PresenceChanged event.
 * A newer mark that does not flip (two flips raced and arrive out of order) is recorded without an
 * event, so that the older of them cannot undo it later.
 */
function presence(room: RoomState, marks: readonly UserPresence[], byServer: boolean, ctx: DecisionContext): Decision {
  let next = room;
  let changed = false;
  const events: RoomEvent[] = [];
  for (const mark of marks) {
    const participant = findParticipant(next, mark.userId);
    // Only participants have presence; a watcher's subscription changes nothing.
    if (!participant || mark.seq <= (participant.presenceSeq ?? 0)) continue;
    const updated: ParticipantState = { ...participant, online: mark.online, presenceSeq: mark.seq };
    changed = true;
    const flipped = (participant.online === true) !== mark.online;
    next = {
      ...next,
      version: flipped ? next.version + 1 : next.version,
      participants: next.participants.map((p) => (p === participant ? updated : p)),
    };
    if (flipped) {
      const base = { ...eventBase(next, next.version, ctx), userId: byServer ? null : mark.userId };
      events.push({ type: 'PresenceChanged', ...base, participant: participantView(room.transactionId, updated) });
    }
  }
  return changed ? { room: next, events, changed } : unchanged(room);
}
