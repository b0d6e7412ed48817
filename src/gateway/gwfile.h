/* gwfile.h - every file the gateway reads or replaces in a directory others
 * can write to: config files, the address file, the data-dir lock.
 *
 * DESIGN: one place that gets the file-system races right (CWE-59, CWE-367),
 * used by every call site instead of fopen/open with a fixed name:
 *  - reads open with O_NONBLOCK and accept only a regular file (fstat on the
 *    open descriptor, not the name), so a FIFO or a device planted as the
 *    config file is an error at once, never a hang;
 *  - replacements write a temp file created with O_CREAT|O_EXCL|O_NOFOLLOW
 *    under an unpredictable name (getrandom) in the target's directory, fsync
 *    it and rename it over the target; when the given path is a symlink the
 *    file it points to is replaced and the link is kept (an operator's
 *    "gateway.yaml -> real.yaml" keeps working);
 *  - the data dir is owned by one gateway at a time through an exclusive
 *    flock on <data-dir>/gateway.lock, held for the gateway's lifetime
 *    (released by the kernel on any exit, kill -9 included).
 * Ownership: buffers returned are heap (caller frees); nothing else is kept.
 * Thread-safe (no shared state). */
#ifndef OSH_GW_FILE_H
#define OSH_GW_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "osh_err.h"

/* Reads the regular file at path (symlinks followed) into a NUL-terminated
 * heap buffer (*out, *len). Errors, each with err naming the path:
 * OSH_ENOTFOUND (absent), OSH_EINVAL (not a regular file: FIFO, device,
 * directory...), OSH_ETOOBIG (more than max bytes), OSH_EIO, OSH_ENOMEM. */
OSH_MUST_CHECK int osh_gw_file_read(const char *path, size_t max, char **out, size_t *len,
				    char *err, size_t errlen);

/* Replaces the file at path with data[0..len) atomically: a reader sees the
 * old or the new content, never a mix. When path is a symlink: with
 * follow_link the file it resolves to is replaced and the link kept (config
 * files an operator links), without it the link itself is replaced (files
 * only the gateway writes, e.g. gateway.addr: a planted link never redirects
 * the write). The new file keeps the old file's mode, or gets `mode` when
 * there was none. Returns 0 or OSH_EIO / OSH_ETOOBIG with err set. */
OSH_MUST_CHECK int osh_gw_file_replace(const char *path, const void *data, size_t len, mode_t mode,
				       bool follow_link, char *err, size_t errlen);

/* Takes the exclusive lock of data dir `dir` (<dir>/gateway.lock, created if
 * needed, never through a symlink) and writes our pid into it. *fd is the
 * descriptor to keep open (close it to release). OSH_EEXIST when another
 * process holds it (err names its pid), OSH_EIO otherwise. */
OSH_MUST_CHECK int osh_gw_file_lock_dir(const char *dir, int *fd, char *err, size_t errlen);

#endif
