// The few globals that browsers and Node both provide and core/ uses, declared for core/'s own
// type-check (core/tsconfig.json: no Node types, no DOM lib, so any other host API fails it).
// The full build gets them from @types/node; this file is included by core/tsconfig.json only.
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: ArrayBufferView | ArrayBuffer): string;
}
declare const performance: { now(): number };
interface AbortSignal {
  readonly aborted: boolean;
}
