/* rpc_common.c - status names, status -> osh_err mapping, shared value parsing.
 *
 * DESIGN: tables indexed by the gRPC status code; everything here is pure and
 * thread-safe so both the server and the client side (and the CLI) share it. */
#include <ctype.h>
#include <strings.h>

#include "osh_rpc.h"

static const char *const status_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

const char *osh_rpc_status_name(int code)
{
	if (code < 0 || code >= (int)(sizeof(status_names) / sizeof(status_names[0])))
		return "UNKNOWN_CODE";
	return status_names[code];
}

int osh_rpc_code_to_err(int code)
{
	switch (code) {
	case OSH_RPC_OK:
		return OSH_OK;
	case OSH_RPC_UNAVAILABLE:
		return OSH_EUNAVAIL;
	case OSH_RPC_DEADLINE_EXCEEDED:
		return OSH_ETIMEDOUT;
	case OSH_RPC_NOT_FOUND:
		return OSH_ENOTFOUND;
	case OSH_RPC_ALREADY_EXISTS:
		return OSH_EEXIST;
	case OSH_RPC_INVALID_ARGUMENT:
		return OSH_EINVAL;
	case OSH_RPC_PERMISSION_DENIED:
	case OSH_RPC_UNAUTHENTICATED:
		return OSH_EPERM;
	case OSH_RPC_RESOURCE_EXHAUSTED:
		return OSH_ETOOBIG;
	case OSH_RPC_CANCELLED:
		return OSH_ECLOSED;
	default:
		return OSH_EPROTO;
	}
}
