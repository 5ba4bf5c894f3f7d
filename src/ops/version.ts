import { packageInfo } from './package-info.js';

export interface VersionInfo {
  name: string;
  version: string;
  /** The Node.js running this process, e.g. v20.19.0. */
  node: string;
}

export function versionInfo(): VersionInfo {
  const { name, version } = packageInfo();
  return { name, version, node: process.version };
}

/** One line for people and bug reports: `teampass-ws 0.1.0 (Node.js v20.19.0)`. */
export function versionLine(info: VersionInfo = versionInfo()): string {
  return `${info.name} ${info.version} (Node.js ${info.node})`;
}
