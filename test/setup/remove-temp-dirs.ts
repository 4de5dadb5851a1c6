import { afterAll } from "vitest";
import { removeTempDirs } from "../helpers/temp-dir.js";

// Runs once per test file, after its last test: the file's temporary directories go.
afterAll(removeTempDirs);
