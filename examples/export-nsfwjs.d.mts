/** Types of examples/export-nsfwjs.mjs (a plain script users run with node). */
export function exportNsfwModel(name: 'MobileNetV2' | 'MobileNetV2Mid' | 'InceptionV3', outDir: string): Promise<string>;
