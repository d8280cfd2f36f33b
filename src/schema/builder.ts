/** The Pothos builder and the GraphQL context type. Defines no types (see the files beside it). */
import SchemaBuilder from '@pothos/core';
import type { Identity } from '../auth/identity.js';
import type { Limits } from '../domain/limits.js';
import type { RoomService } from '../services/room-service.js';
import type { RoomStreamRequest, RoomStreamSource } from '../services/room-stream.js';

/** What resolvers may use: the caller and the services, never a store or a transport. */
export interface GraphQLContext {
  identity: Identity | null;
  /** Why there is no identity (or it expired): the UNAUTHENTICATED message. */
  authFailure?: string;
  /**
   * When set, a subscription opened in this context ends with UNAUTHENTICATED at this instant (epoch
   * ms): the credentials expire then. Unset over graphql-ws, whose connection closes at that instant.
   */
  streamDeadline?: number;
  rooms: RoomService;
  openStream(request: RoomStreamRequest): RoomStreamSource;
  /** Counts one operation against the user's rate limit (mutations do it in RoomService). */
  rateLimit(userId: string): Promise<void>;
  limits: Limits;
}

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  Scalars: { DateTime: { Input: string; Output: string }; ID: { Input: string; Output: string } };
}>({ defaultFieldNullability: false });
