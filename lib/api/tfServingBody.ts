/**
 * The body of a TF Serving REST request (:predict, :classify, :regress): JSON, where TF Serving
 * also reads the tokens NaN, Infinity and -Infinity as numbers (its api_rest.md, "JSON
 * conformance"; Python's json.dumps writes them, and this service writes NaN in TF Serving's plain
 * arrays). Read so, they reach the value checks, which name the value and where it is (a model
 * computes in finite float32), rather than fail the parse at a column.
 */
import JSON5 from 'json5';
import { bodyText, InvalidJsonError, jsonValue } from '../http/body.js';
import type { RouteRequest } from '../http/router.js';

const NON_FINITE_TOKEN = /(?:^|[^\w"])-?(?:NaN|Infinity)(?![\w"])/;

export function readTfServingBody(request: RouteRequest): unknown {
  try {
    return jsonValue(request);
  } catch (error) {
    if (!(error instanceof InvalidJsonError)) throw error;
    const text = bodyText(request) ?? '';
    if (!NON_FINITE_TOKEN.test(text)) throw error;
    // Only such a body is read by JSON5, which takes those tokens (and more than JSON does): one
    // that JSON5 cannot read either gets JSON's own message.
    try {
      return JSON5.parse(text);
    } catch {
      throw error;
    }
  }
}
