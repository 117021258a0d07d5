#!/usr/bin/env node
// `emseg-export` is reserved for the ONNX exporter (issue 6). Until it lands, say so plainly and fail
// rather than write nothing and succeed.
process.stderr.write('emseg-export: the ONNX exporter is not implemented yet in this version of emseg\n');
process.exitCode = 2;
