const HOST_PORT = /^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(:\d{1,5})?$/i;

/**
 * Why an allowed_origins entry can never match a browser's Origin header, or undefined when it
 * can. The daemon matches "*", a full origin (scheme://host[:port], a trailing slash ignored)
 * or a bare host[:port] (any scheme); anything else would silently refuse every browser.
 */
export function originEntryProblem(entry: string): string | undefined {
  if (entry === '*') return undefined;
  const trimmed = entry.trim().replace(/\/+$/, '');
  if (!trimmed.includes('://')) return HOST_PORT.test(trimmed) ? undefined : `${JSON.stringify(entry)} is neither an origin (https://host) nor a host name`;
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return `${JSON.stringify(entry)} is not a URL`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `${JSON.stringify(entry)}: browsers send http: or https: origins, never ${url.protocol}`;
  return undefined;
}
