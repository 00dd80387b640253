// Imported first by run.ts, so that it runs before the addon (and the OpenBLAS it dlopens) loads;
// the PyTorch peer inherits the environment.
//
// OpenBLAS's worker threads keep spinning for about 2^28 cycles (~0.1 s) after each call before
// they sleep. With ours and a peer alternating on the same cores, the side that just used OpenBLAS
// steals CPU from the side that runs next (measured: PyTorch's 3x3 conv at 56x56 went from 23 ms
// alone to 41 ms right after ours). 2^4 cycles makes the threads sleep at once; throughput of
// large GEMMs is unchanged. An explicit OPENBLAS_THREAD_TIMEOUT in the environment is kept.
process.env.OPENBLAS_THREAD_TIMEOUT ??= '4';
