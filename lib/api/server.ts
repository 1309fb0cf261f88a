/** OIP v2 server metadata (GET /v2): who answers, which version, and which extensions it speaks. */
import packageJson from '../../package.json' with { type: 'json' };

/**
 * Extensions beyond the required OIP v2 API. `binary_tensor_data`: Triton's and KServe's binary
 * tensor data extension on /infer. `classification`: Triton's, an output asked with
 * `parameters.classification` answered as its top classes (protocol/classification.ts). `parameters`: `parameters.content_type` on inputs and requests
 * picks the codec (MLServer's convention). The rest are this service's own routes.
 */
const EXTENSIONS = ['binary_tensor_data', 'classification', 'parameters', 'explain', 'evaluate', 'fine_tune', 'model_aliases', 'jobs'];

export function serverMetadata(): { name: string; version: string; extensions: string[] } {
  return { name: packageJson.name, version: packageJson.version, extensions: EXTENSIONS };
}
