export * from './names.js';
export * from './manifest.js';
export * from './versions.js';
export * from './aliases.js';
export * from './resolve.js';
export * from './createVersion.js';
export * from './claimedVersion.js';
export { keys } from './keys.js';
export { sha256Hex } from './checksum.js';
