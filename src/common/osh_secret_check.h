/* osh_secret_check.h - what a secret name and value may be.
 *
 * DESIGN
 * One rule for every place a secret passes: the CLI (`--secret`), the
 * gateway (CreateSandbox) and the supervisor's secret store. A name becomes
 * an environment variable and part of a placeholder
 * (openshell:resolve:env:NAME); a value is written into HTTP header lines by
 * the proxy, so CR, LF and NUL (which could split a header or end a string
 * early) are refused. Error texts name the problem and the byte offset,
 * never the value. Pure, thread-safe.
 */
#ifndef OSH_SECRET_CHECK_H
#define OSH_SECRET_CHECK_H

#include <stddef.h>

#include "osh_err.h"

#define OSH_SECRET_MAX	     64	  /* secrets per sandbox  */
#define OSH_SECRET_NAME_MAX  128  /* bytes of a name      */
#define OSH_SECRET_VALUE_MAX 8192 /* bytes of a value     */

/* 1 when name is [A-Za-z_][A-Za-z0-9_]* and at most OSH_SECRET_NAME_MAX
 * bytes, else 0. */
int osh_secret_name_ok(const char *name);

/* 0, or OSH_EINVAL when value (vlen bytes) contains CR, LF or NUL, or
 * OSH_ETOOBIG when longer than OSH_SECRET_VALUE_MAX; err says which. */
OSH_MUST_CHECK int osh_secret_value_check(const char *value, size_t vlen, char *err, size_t errlen);

#endif
