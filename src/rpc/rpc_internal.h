/* rpc_internal.h - helpers shared by rpc_server.c and rpc_client.c only.
 *
 * DESIGN: protobuf <-> byte buffer conversion and method path building exist
 * once, so both sides encode and name methods the same way. */
#ifndef OSH_RPC_INTERNAL_H
#define OSH_RPC_INTERNAL_H

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

/* Pack m into a new byte buffer (caller destroys). NULL with *rc OSH_ETOOBIG
 * when the packed size exceeds max (0 = no limit). */
grpc_byte_buffer *osh_rpc_pack(const ProtobufCMessage *m, size_t max, int *rc);

/* Unpack bb as d; NULL when the bytes do not parse. bb is not consumed.
 * With err (server side: every request), a message that parses is also put
 * through osh_rpc_check_strings: NULL when a string field is not valid UTF-8
 * or holds a NUL, err saying which ("" when the bytes did not parse). */
ProtobufCMessage *osh_rpc_unpack(const ProtobufCMessageDescriptor *d, grpc_byte_buffer *bb,
				 char *err, size_t errlen);

/* "/<svc->name>/<method>" (malloc'd), NULL on OOM. */
char *osh_rpc_path(const ProtobufCServiceDescriptor *svc, const char *method);

#endif
