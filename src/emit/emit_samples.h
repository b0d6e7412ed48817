/* emit_samples.h - build-and-emit one representative event (storm, bench,
 * tests). Library `osh_emit_samples`. */
#ifndef OSH_EMIT_SAMPLES_H
#define OSH_EMIT_SAMPLES_H

#include <stdbool.h>

/* Number of distinct classes the samples cycle through. */
#define OSH_EMIT_SAMPLE_CLASSES 8

/* Builds sample `i` (class i % 8: NET, HTTP, SSH, PROC, FINDING, LIFECYCLE,
 * CONFIG, EVENT) on the stack and emits it with osh_emit(); `hostile` puts
 * CR/LF, brackets, quotes, control bytes and invalid UTF-8 into the values a
 * peer controls. Returns osh_emit()'s result. Thread-safe. */
int osh_emit_sample(unsigned i, bool hostile);

#endif
