/**
 * A state log record's value as a JSON object, or why it is not one ('not JSON', 'not a JSON
 * object'): the first step of every store's record parser (StateLogOptions.parse).
 */
export function jsonObjectOf(text: string): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : 'not a JSON object';
}
