import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PackageInfo {
  /** The folder holding package.json, bin/ and templates/. */
  root: string;
  name: string;
  version: string;
}

let cached: PackageInfo | undefined;

/**
 * This package's root. Compiled code runs from dist/src/…, tests run the sources from src/…,
 * so the root is found by walking up to our own package.json rather than by a fixed depth.
 */
export function packageInfo(): PackageInfo {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'teampass-ws') {
        cached = { root: dir, name: pkg.name, version: pkg.version ?? '0.0.0' };
        return cached;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('teampass-ws: cannot find its own package.json above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export function templatePath(name: string): string {
  return path.join(packageInfo().root, 'templates', name);
}

export function readTemplate(name: string): string {
  return readFileSync(templatePath(name), 'utf8');
}

/** The launcher a service manager should run. */
export function binPath(): string {
  return path.join(packageInfo().root, 'bin', 'teampass-ws');
}
