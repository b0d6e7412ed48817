/* osh_err.h - the project's one error enum.
 *
 * DESIGN: every fallible function returns int: 0 (OSH_OK) or a negative
 * enum osh_err value; osh_strerror() names it. Functions that can fail are
 * marked OSH_MUST_CHECK. Long-lived contexts keep a first-error-wins message
 * of their own; this enum only says which kind of failure it was.
 * New codes are appended at the end (never renumbered). */
#ifndef OSH_ERR_H
#define OSH_ERR_H

#define OSH_MUST_CHECK __attribute__((warn_unused_result))

enum osh_err {
	OSH_OK = 0,
	OSH_ENOMEM = -1,     /* an allocation or a fixed arena/buffer ran out */
	OSH_ETOOBIG = -2,    /* input or output larger than its documented bound */
	OSH_EIO = -3,        /* read/write/open failed (errno says more) */
	OSH_EINVAL = -4,     /* a caller passed a value outside the contract */
	OSH_EPARSE = -5,     /* malformed input: config, YAML, JSON, protobuf, HTTP */
	OSH_ENOTFOUND = -6,  /* a named thing does not exist */
	OSH_EEXIST = -7,     /* a named thing exists already */
	OSH_EFULL = -8,      /* a bounded queue is full; the item was dropped */
	OSH_ECLOSED = -9,    /* the object was shut down */
	OSH_ETIMEDOUT = -10, /* a deadline passed */
	OSH_EUNAVAIL = -11,  /* a peer (gateway, server) cannot be reached */
	OSH_ESYS = -12,      /* a system call failed (errno says more) */
	OSH_EDEPTH = -13,    /* nesting deeper than the configured limit */
	OSH_ESTATE = -14,    /* called in the wrong state */
	OSH_EPERM = -15,     /* not allowed by policy or permissions */
	OSH_EPROTO = -16,    /* a peer broke the protocol or returned an error status */
};

/* Returns a static, never-NULL description of err (an enum osh_err value).
 * Thread-safe. */
const char *osh_strerror(int err);

#endif
