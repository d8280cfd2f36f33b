/**
 * The conflict-rooms SDK: typed operation documents (for Apollo Client, urql or any GraphQL client),
 * the pure event reducer, and a room client that stays equal to the server's room.
 * Imports nothing of the server.
 */
export * from './generated/graphql.js';
export { applyEvent, type ApplyResult, type Room, type RoomEvent } from './apply-event.js';
export {
  type ChangeOptions,
  createRoomClient,
  execute,
  operationPayload,
  type RoomClient,
  type RoomClientError,
  type RoomClientOptions,
  type RoomConnectionStatus,
  type RoomHandle,
} from './room-client.js';
export { agreementDigest, canonicalAgreementJson, type AgreementValues } from './agreement.js';

import fragmentMatcher from './generated/possible-types.js';

/**
 * For Apollo Client's cache: `new InMemoryCache({ possibleTypes, typePolicies: apolloTypePolicies })`.
 * Without possibleTypes Apollo cannot match the event fragments on the ConflictRoomEvent interface; the
 * policy tells it that each event replaces the last (events have no id to merge by).
 */
export const possibleTypes = fragmentMatcher.possibleTypes;
export const apolloTypePolicies = { Subscription: { fields: { conflictRoomEvents: { merge: false } } } } as const;
