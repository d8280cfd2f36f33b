/**
 * One HTTP request on a connection of its own (node:http, no keep-alive pool): hostile bodies may be
 * answered before they are read, and the server then closes that connection, which a pooled client
 * would trip over on its next request.
 */
import { request } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body as JSON, or undefined when it is not JSON. */
  json: any;
  /** From sending the first byte to the whole answer. */
  ms: number;
  /** True when `timeoutMs` passed first (an open event stream, say): the rest was not waited for. */
  timedOut: boolean;
}

/**
 * @param body a string or Buffer (sent with Content-Length), or an array of chunks (sent with
 * Transfer-Encoding: chunked and no Content-Length)
 */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer | Buffer[]; timeoutMs?: number } = {},
): Promise<RawResponse> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const chunked = Array.isArray(options.body);
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined && !chunked) headers['content-length'] = String(Buffer.byteLength(options.body as string | Buffer));
    let timer: NodeJS.Timeout | undefined;
    const req = request(url, { method: options.method ?? 'GET', headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      const finish = (timedOut: boolean) => {
        clearTimeout(timer);
        const text = Buffer.concat(parts).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, ms: performance.now() - started, timedOut });
      };
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => finish(false));
      res.on('error', () => finish(true));
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          finish(true);
          req.destroy();
        }, options.timeoutMs);
      }
    });
    // The server may answer and close before the whole body is written: that is the point, not a failure.
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    if (chunked) {
      for (const chunk of options.body as Buffer[]) req.write(chunk);
      req.end();
    } else req.end(options.body);
  });
}
