/* osh_err.c - names for enum osh_err.
 * DESIGN: a switch, so a new code without a name is a -Wswitch warning. */
#include "osh_err.h"

const char *osh_strerror(int err)
{
	const char *s = "unknown error";

	switch ((enum osh_err)err) {
	case OSH_OK: s = "success"; break;
	case OSH_ENOMEM: s = "out of memory"; break;
	case OSH_ETOOBIG: s = "too big"; break;
	case OSH_EIO: s = "input/output error"; break;
	case OSH_EINVAL: s = "invalid argument"; break;
	case OSH_EPARSE: s = "malformed input"; break;
	case OSH_ENOTFOUND: s = "not found"; break;
	case OSH_EEXIST: s = "already exists"; break;
	case OSH_EFULL: s = "queue full"; break;
	case OSH_ECLOSED: s = "closed"; break;
	case OSH_ETIMEDOUT: s = "timed out"; break;
	case OSH_EUNAVAIL: s = "unavailable"; break;
	case OSH_ESYS: s = "system call failed"; break;
	case OSH_EDEPTH: s = "nested too deep"; break;
	case OSH_ESTATE: s = "wrong state"; break;
	case OSH_EPERM: s = "not permitted"; break;
	case OSH_EPROTO: s = "protocol error"; break;
	}
	return s;
}
