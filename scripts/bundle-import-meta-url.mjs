// Injected into the CommonJS bundle by scripts/bundle.mjs: the value `import.meta.url` stands
// for there. __filename is the bundle itself (under a single executable, the executable).
import { pathToFileURL } from "node:url";

export const importMetaUrl = pathToFileURL(__filename).href;
