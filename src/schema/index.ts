import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.js';
import './room.js';
import './events.js';
import './operations.js';

/** The executable schema, sorted so that its printed form is stable. */
export const schema = lexicographicSortSchema(builder.toSchema());
