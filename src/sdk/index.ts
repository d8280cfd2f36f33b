/**
 * The conflict-rooms SDK: typed operation documents (for Apollo Client, urql or any GraphQL client),
 * the pure event reducer, and a room client that stays equal to the server's room.
 * Imports nothing of the server.
 */
export * from './generated/graphql.js';
export { applyEvent, type ApplyResult, type Room, type RoomEvent } from './apply-event.js';
export { createRoomClient, execute, type RoomClient, type RoomClientOptions, type RoomHandle } from './room-client.js';
