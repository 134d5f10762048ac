// Yes/no questions about a path, where "cannot tell" (missing, no permission) is "no".
import { lstatSync, statSync } from 'node:fs';

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
