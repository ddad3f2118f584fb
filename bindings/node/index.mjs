// ESM entry point: the same objects as the CommonJS entry (index.js).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const ferrio = require("./index.js");

export const {
  Server,
  Namespace,
  ParentNamespace,
  Socket,
  RemoteSocket,
  BroadcastOperator,
  Adapter,
  FerrioError,
  errorCodes,
  createAdapter,
} = ferrio;
export default ferrio;
