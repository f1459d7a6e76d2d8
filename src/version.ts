import packageJson from '../package.json' with { type: 'json' };
import { SPEC_VERSION } from './spec/default-spec.js';

export const VERSION_TEXT = `ocirun version ${packageJson.version}\nspec: ${SPEC_VERSION}`;
