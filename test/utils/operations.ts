/** The operations e2e tests send, as a client app would write them. */
const room = `
  id transactionId version epoch status allReady resolvedAt
  selections { id field value userId userName selectedAt version }
  participants { id userId name isReady online joinedAt }
`;

export const ROOM_QUERY = `query Room($tx: ID!) { conflictRoom(transactionId: $tx) { ${room} } }`;
export const JOIN = `mutation Join($tx: ID!, $name: String) { joinConflictRoom(transactionId: $tx, userName: $name) { ${room} } }`;
export const LEAVE = `mutation Leave($tx: ID!) { leaveConflictRoom(transactionId: $tx) { ${room} } }`;
export const SELECT = `mutation Select($tx: ID!, $field: String!, $value: String!, $expected: Int, $requestId: ID) {
  selectField(transactionId: $tx, field: $field, value: $value, expectedVersion: $expected, requestId: $requestId) { ${room} } }`;
export const CLEAR = `mutation Clear($tx: ID!, $field: String!, $expected: Int, $requestId: ID) {
  clearField(transactionId: $tx, field: $field, expectedVersion: $expected, requestId: $requestId) { ${room} } }`;
export const SET_READY = `mutation Ready($tx: ID!, $ready: Boolean!, $requestId: ID) {
  setReady(transactionId: $tx, isReady: $ready, requestId: $requestId) { ${room} } }`;

export const EVENTS = `subscription Events($tx: ID!, $after: Int, $epoch: String) {
  conflictRoomEvents(transactionId: $tx, afterVersion: $after, epoch: $epoch) {
    __typename transactionId version at userId
    ... on FieldSelected { readinessReset selection { field value userId userName version } }
    ... on FieldCleared { field readinessReset }
    ... on ParticipantJoined { participant { userId name isReady online } }
    ... on ParticipantLeft { participant { userId } }
    ... on ReadinessChanged { participant { userId isReady } }
    ... on PresenceChanged { participant { userId online } }
    ... on RoomResolved { room { version status allReady selections { field value } } }
    ... on RoomSnapshot { room { version epoch selections { field value } participants { userId } } }
  }
}`;

export interface RoomData {
  id: string;
  transactionId: string;
  version: number;
  epoch: string;
  status: 'OPEN' | 'RESOLVED';
  allReady: boolean;
  resolvedAt: string | null;
  selections: Array<{ id: string; field: string; value: string; userId: string; userName: string; selectedAt: string; version: number }>;
  participants: Array<{ id: string; userId: string; name: string; isReady: boolean; online: boolean; joinedAt: string }>;
}

export interface EventData {
  __typename: string;
  transactionId: string;
  version: number;
  at: string;
  userId: string | null;
  readinessReset?: boolean;
  field?: string;
  selection?: { field: string; value: string; userId: string; userName: string; version: number };
  participant?: { userId: string; name?: string; isReady?: boolean; online?: boolean };
  room?: { version: number; epoch?: string; status?: string; allReady?: boolean; selections: Array<{ field: string; value: string }>; participants?: Array<{ userId: string }> };
}

export type EventsResult = { conflictRoomEvents: EventData };
