/**
 * Mints an HS256 token for local testing with AUTH_MODE=jwt and JWT_SECRET (never for production:
 * there, tokens come from your identity provider or your own login service).
 *
 *   JWT_SECRET=… npm run token -- --sub alice --name Alice --tx tx-1,tx-2 [--ttl 3600] [--iss …] [--aud …]
 *
 * `--tx` is required (a token grants only the rooms it names); `--tx '*'` grants every transaction; JWT_ISSUER / JWT_AUDIENCE are used when set and not given.
 */
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';

function main(): number {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      name: { type: 'string' },
      tx: { type: 'string' },
      ttl: { type: 'string', default: '3600' },
      iss: { type: 'string' },
      aud: { type: 'string' },
    },
  });
  const secret = process.env.JWT_SECRET;
  const ttl = Number(values.ttl);
  if (!secret || secret.length < 32 || !values.sub || !values.tx || !Number.isInteger(ttl) || ttl <= 0) {
    console.error('usage: JWT_SECRET=<at least 32 characters> npm run token -- --sub <user id> --tx <tx-1,tx-2 | *> [--name <display name>] [--ttl seconds]');
    return 2;
  }
  const transactions = values.tx === '*' ? ['*'] : values.tx.split(',').map((t) => t.trim());
  const jwt = new SignJWT({ transactions, ...(values.name ? { name: values.name } : {}) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(values.sub)
    .setIssuedAt()
    .setExpirationTime(`${ttl}s`);
  const iss = values.iss ?? process.env.JWT_ISSUER;
  const aud = values.aud ?? process.env.JWT_AUDIENCE;
  if (iss) jwt.setIssuer(iss);
  if (aud) jwt.setAudience(aud);
  void jwt.sign(new TextEncoder().encode(secret)).then((token) => console.log(token));
  return 0;
}

process.exitCode = main();
