import { badInput } from '../errors.js';

/** The input rules of SEMANTICS.md; every number can be configured (see src/config.ts). */
export interface Limits {
  /** Longest transactionId. Default 128. */
  transactionIdMaxLength: number;
  /** Longest field name. Default 64. */
  fieldMaxLength: number;
  /** Longest value. Default 1,024. */
  valueMaxLength: number;
  /** Longest user name after trimming. Default 64. */
  userNameMaxLength: number;
  /** Most fields with a selection in one room. Default 100. */
  maxFields: number;
  /** Most participants in one room. Default 16. */
  maxParticipants: number;
}

export const defaultLimits: Limits = {
  transactionIdMaxLength: 128,
  fieldMaxLength: 64,
  valueMaxLength: 1024,
  userNameMaxLength: 64,
  maxFields: 100,
  maxParticipants: 16,
};

const transactionIdPattern = /^[A-Za-z0-9_\-.:]+$/;
const fieldPattern = /^[A-Za-z][A-Za-z0-9_\-.]*$/;
// C0, DEL and C1 control characters.
const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/;
/** Characters as people count them (code points), not UTF-16 units: an emoji is one. */
const characters = (text: string) => {
  let count = 0;
  for (const _ of text) count++;
  return count;
};

export function checkTransactionId(id: string, limits: Limits): string {
  if (id.length < 1 || id.length > limits.transactionIdMaxLength || !transactionIdPattern.test(id)) {
    throw badInput(
      `transactionId must be 1 to ${limits.transactionIdMaxLength} characters of A-Z a-z 0-9 _ - . :`,
      'transactionId',
    );
  }
  return id;
}

export function checkField(field: string, limits: Limits): string {
  if (field.length < 1 || field.length > limits.fieldMaxLength || !fieldPattern.test(field)) {
    throw badInput(
      `field must be 1 to ${limits.fieldMaxLength} characters: a letter first, then letters, digits, _ - .`,
      'field',
    );
  }
  return field;
}

export function checkValue(value: string, limits: Limits): string {
  if (value.length > limits.valueMaxLength && characters(value) > limits.valueMaxLength) {
    throw badInput(`value must be at most ${limits.valueMaxLength} characters`, 'value');
  }
  return value;
}

/** Returns the trimmed name. */
export function checkUserName(name: string, limits: Limits, argumentName = 'userName'): string {
  const trimmed = name.trim();
  if (trimmed.length < 1 || characters(trimmed) > limits.userNameMaxLength || controlCharacter.test(trimmed)) {
    throw badInput(
      `${argumentName} must be 1 to ${limits.userNameMaxLength} characters after trimming, with no control characters`,
      argumentName,
    );
  }
  return trimmed;
}

export function checkExpectedVersion(expectedVersion: number | null | undefined): number | undefined {
  if (expectedVersion == null) return undefined;
  if (expectedVersion < 0) throw badInput('expectedVersion must be 0 or more', 'expectedVersion');
  return expectedVersion;
}

export function checkRequestId(requestId: string | null | undefined): string | undefined {
  if (requestId == null) return undefined;
  if (requestId.length < 1 || requestId.length > 128 || controlCharacter.test(requestId)) {
    throw badInput('requestId must be 1 to 128 characters with no control characters', 'requestId');
  }
  return requestId;
}
