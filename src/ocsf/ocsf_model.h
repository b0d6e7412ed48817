/* ocsf_model.h - the contract between the OCSF generator and the runtime.
 *
 * DESIGN
 * The generator (codegen/) emits, for every selected class and every object
 * reachable from them, (1) a C struct, (2) a descriptor table of type
 * struct ocsf_object / struct ocsf_field describing that struct, and (3) thin
 * static inline typed setters, appenders and sub-object accessors. Everything
 * that walks an event (JSON serializer, maximal-sample builder, caption fill,
 * profile computation) is hand-written once in src/ocsf/ and reads only these
 * descriptors. This header is that shared vocabulary: it is hand-written, the
 * generated code includes it and checks OCSF_MODEL_ABI at compile time.
 *
 * Memory model
 * - An event is a struct on the caller's stack (or anywhere the caller owns).
 *   It embeds a struct ocsf_event whose arena holds every sub-object and array
 *   the event grows. Nothing on the build path calls malloc.
 * - Every generated struct (class or object) starts with struct ocsf_hdr, so
 *   any object knows its arena and its nesting depth; accessors need no
 *   separate arena argument.
 * - Strings and json_t texts are BORROWED: the caller keeps them alive until
 *   the emit/serialize call returns. ocsf_arena_strdup()/ocsf_arena_printf()
 *   copy into the arena for values that are computed at the site.
 * - Failure is sticky and never a crash: when the arena is exhausted or a
 *   nesting limit is passed, the allocation returns a zeroed scratch object
 *   (so the site's following setters are harmless), the arena records the
 *   first error, and serialization of the event refuses with that error.
 * - An event must not be copied by value (the header points into itself).
 *
 * Field layout rules the generator follows (the walker relies on them)
 * - kind STRING, JSON, ENUM_STR: member type const char *.
 * - kind INT, ENUM_INT:          int32_t.
 * - kind LONG (long_t, timestamp_t): int64_t.
 * - kind FLOAT: double.   kind BOOL: bool.   kind PORT: uint16_t.
 * - kind OBJECT: pointer to the object's struct (NULL until accessed).
 * - kind OPEN_OBJECT (OCSF type `object`, e.g. unmapped, xattributes):
 *   struct ocsf_array of struct ocsf_kv (key/value pairs, insertion order),
 *   filled through ocsf_open_add_*(); serialized as one JSON object.
 * - With OCSF_F_ARRAY the member is a struct ocsf_array whose items are the
 *   kind's member type (pointers to structs for OBJECT).
 * - Presence: a bitset `uint64_t present[]` at presence_offset; field i of the
 *   descriptor is present iff bit i is set. A setter always sets the bit, so
 *   "set to 0/false/empty" is distinct from "unset".
 * - Fields are listed sorted by JSON name; serialization emits them in that
 *   order, so output is deterministic.
 *
 * Serializer plans (struct ocsf_plan, generated beside each descriptor)
 * - The generator also writes, per object, what the serializer needs on
 *   every event, as static const data: one row per field with the
 *   pre-quoted `,"key":` text, an opcode folding kind and flags, the member
 *   offset and the child object's plan; the class-level derived members
 *   rendered in full (`,"class_uid":4001`; type_uid/type_name per activity);
 *   and the word masks of the rows visited without a presence bit (derived
 *   rows), of enum rows and where their caption row sits, and of rows with a
 *   profile. The serializer reads only these tables: nothing is computed,
 *   cached or locked at run time. Hand-written descriptor tables (tests)
 *   write their plans by hand, following the same rules.
 */
#ifndef OCSF_MODEL_H
#define OCSF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bumped whenever this header changes in a way generated code depends on. */
#define OCSF_MODEL_ABI 2

/* Size of the arena embedded in every event (bytes). A representative event
 * (endpoints, actor with two parents, container, device, rule) needs ~6 KiB.
 * Larger events use ocsf_event_use_buffer(). */
#ifndef OCSF_EVENT_ARENA_SIZE
#define OCSF_EVENT_ARENA_SIZE 16384
#endif

/* Maximum nesting depth of objects below the event (the event is depth 0).
 * Recursive objects (process.parent_process, ...) stop here. */
#ifndef OCSF_MAX_DEPTH
#define OCSF_MAX_DEPTH 16
#endif

enum ocsf_kind {
	OCSF_K_STRING = 0,  /* string_t and string subtypes: const char *      */
	OCSF_K_INT,         /* integer_t: int32_t                               */
	OCSF_K_LONG,        /* long_t, timestamp_t: int64_t                     */
	OCSF_K_FLOAT,       /* float_t: double (never NaN/Inf in output)        */
	OCSF_K_BOOL,        /* boolean_t: bool                                  */
	OCSF_K_PORT,        /* port_t: uint16_t                                 */
	OCSF_K_JSON,        /* json_t: const char * with valid JSON text        */
	OCSF_K_ENUM_INT,    /* integer enum (_id attributes): int32_t           */
	OCSF_K_ENUM_STR,    /* string enum (http_method): const char *          */
	OCSF_K_OBJECT,      /* struct pointer, allocated in the arena           */
	OCSF_K_OPEN_OBJECT, /* OCSF `object` type: struct ocsf_array of ocsf_kv  */
};

/* Field flags. */
enum {
	OCSF_F_ARRAY = 1u << 0,       /* member is struct ocsf_array                 */
	OCSF_F_REQUIRED = 1u << 1,    /* requirement: required                       */
	OCSF_F_RECOMMENDED = 1u << 2, /* requirement: recommended                    */
	OCSF_F_DEPRECATED = 1u << 3,  /* @deprecated in the schema                   */
	OCSF_F_CAPTION = 1u << 4,     /* caption sibling of an enum: filled at output */
	OCSF_F_DERIVED = 1u << 5,     /* class-level value the runtime fills
	                                 (class_name, category_*, type_*, version) */
};

/* A growable array living in the event arena. Appending may move `items`
 * (never the objects the items point to). */
struct ocsf_array {
	void *items;   /* element array: the kind's member type */
	uint32_t len;  /* elements in use */
	uint32_t cap;  /* elements allocated */
};

/* One member of an open object (OCSF type `object`). */
enum ocsf_kv_type { OCSF_KV_STRING, OCSF_KV_INT, OCSF_KV_BOOL, OCSF_KV_FLOAT, OCSF_KV_JSON };
struct ocsf_kv {
	const char *key;   /* borrowed */
	uint8_t type;      /* enum ocsf_kv_type */
	union {
		const char *s; /* STRING (borrowed) or JSON (valid JSON text, borrowed) */
		int64_t i;
		bool b;
		double f;
	} v;
};

/* One enum value. For ENUM_INT `value` is the number and `key` is NULL; for
 * ENUM_STR `key` is the string and `value` is its index. */
struct ocsf_enum_item {
	int64_t value;
	const char *key;
	const char *caption;
	bool deprecated;
};

/* Values sorted ascending by value (ENUM_INT) or by key (ENUM_STR). */
struct ocsf_enum {
	const char *name; /* e.g. "network_activity.activity_id" */
	uint32_t count;
	const struct ocsf_enum_item *items;
};

struct ocsf_object;

struct ocsf_field {
	const char *name;                 /* JSON key                               */
	uint32_t offset;                  /* offsetof(struct, member)               */
	uint8_t kind;                     /* enum ocsf_kind                          */
	uint8_t flags;                    /* OCSF_F_*                               */
	int8_t profile;                   /* index into ocsf_profile_names, -1 core */
	int16_t sibling;                  /* enum field: index of its caption field;
	                                     caption field: index of its enum; -1  */
	const struct ocsf_object *object; /* kind OBJECT: the object's descriptor   */
	const struct ocsf_enum *enumeration; /* ENUM_INT / ENUM_STR                 */
	double min, max;                  /* numeric range when has_range           */
	bool has_range;                   /* e.g. port_t 0..65535                   */
};

/* Constraint groups: lists of field indexes, terminated by -1. */
struct ocsf_constraint {
	bool just_one;             /* false: at_least_one; true: just_one */
	const int16_t *fields;     /* -1 terminated */
};

struct ocsf_plan;

struct ocsf_object {
	const char *name;          /* schema name, e.g. "network_endpoint" */
	const char *caption;       /* e.g. "Network Endpoint"              */
	uint32_t size;             /* sizeof(struct)                       */
	uint32_t presence_offset;  /* offsetof(struct, present)            */
	uint16_t n_fields;
	uint16_t n_constraints;
	const struct ocsf_field *fields;
	const struct ocsf_constraint *constraints;
	bool recursive;            /* can (transitively) contain itself    */
	const struct ocsf_plan *plan; /* the serializer's plan of this object */
};

/* ---------------------------------------------------------- serializer plans */

/* Words of 64 rows a plan mask has: plans describe up to 256 fields. */
#define OCSF_PLAN_WORDS 4
/* Room of a row's pre-quoted key: `,"` + name (<= 35 bytes) + `":`, NUL
 * padded, so the serializer moves it with fixed-size copies. */
#define OCSF_PLAN_KEY 40

enum ocsf_op {
	OCSF_OP_GENERIC = 0, /* arrays, floats, json_t, open objects: read the field */
	OCSF_OP_STR,         /* STRING / ENUM_STR scalar                           */
	OCSF_OP_I32,         /* INT / ENUM_INT scalar                              */
	OCSF_OP_I64,         /* LONG scalar                                        */
	OCSF_OP_PORT,        /* PORT scalar                                        */
	OCSF_OP_BOOL,        /* BOOL scalar                                        */
	OCSF_OP_OBJ,         /* OBJECT scalar; ref = the child's plan              */
	OCSF_OP_CAPTION,     /* caption of the scalar ENUM_INT row `sibling`; ref =
	                        its enum                                            */
	OCSF_OP_CAPTION_ANY, /* caption row of another shape (arrays, string enum) */
	OCSF_OP_CONST,       /* derived member with a fixed text: ref = the whole
	                        `,"key":value` (klen bytes)                         */
	OCSF_OP_TYPE_UID,    /* class type_uid; ref = texts per activity enum item,
	                        each `<length byte>,"type_uid":<n>`                 */
	OCSF_OP_TYPE_NAME,   /* class type_name; same shape                        */
	OCSF_OP_PROFILES,    /* metadata.profiles: filled in once the tree is known */
	OCSF_OP_METADATA,    /* the class's metadata object; ref = its plan        */
};

struct ocsf_plan_row {
	char key[OCSF_PLAN_KEY]; /* `,"name":`, NUL padded                    */
	uint8_t klen;            /* bytes of key; OCSF_OP_CONST: bytes of ref  */
	uint8_t op;              /* enum ocsf_op                               */
	int8_t profile;          /* the field's profile index, -1 core         */
	int16_t sibling;         /* the field's sibling (caption <-> enum)     */
	uint32_t offset;         /* member offset                              */
	const void *ref;         /* per op, see enum ocsf_op                   */
};

/* Masks are indexed like presence bits (row i: word i / 64, bit i % 64). */
struct ocsf_plan {
	const struct ocsf_object *desc;     /* the object this plan writes       */
	const struct ocsf_plan_row *rows;   /* desc->n_fields rows               */
	uint16_t words;                     /* (n_fields + 63) / 64              */
	uint64_t valid[OCSF_PLAN_WORDS];    /* rows 0..n_fields-1                */
	uint64_t always[OCSF_PLAN_WORDS];   /* visited without a presence bit when
	                                       written as the class or its metadata:
	                                       derived rows, the class's metadata */
	uint64_t cap_prev[OCSF_PLAN_WORDS]; /* ENUM_INT rows whose caption is the
	                                       row before (same word)            */
	uint64_t cap_next[OCSF_PLAN_WORDS]; /* ... the row after (same word)     */
	uint64_t cap_far[OCSF_PLAN_WORDS];  /* ... any other row                 */
	uint64_t profrows[OCSF_PLAN_WORDS]; /* rows with a profile               */
};

/* Per-class identity. class_uid/category are fixed by the schema; type_uid is
 * class_uid*100 + activity_id, type_name "<caption>: <activity caption>". */
struct ocsf_class {
	const struct ocsf_object *object; /* the class's attribute table */
	int32_t class_uid;
	const char *class_name;           /* caption, e.g. "Network Activity" */
	int32_t category_uid;
	const char *category_name;        /* e.g. "Network Activity"          */
	const struct ocsf_enum *activity; /* activity_id enum of this class   */
	int16_t activity_field;           /* index of activity_id in object   */
	int16_t severity_field;           /* index of severity_id             */
	int16_t metadata_field;           /* index of metadata                */
	int16_t time_field;               /* index of time                    */
};

/* ------------------------------------------------------------------ arena */

struct ocsf_arena {
	unsigned char *base;  /* storage (embedded buffer or caller's)   */
	size_t cap;           /* bytes usable for allocations            */
	size_t used;          /* bytes handed out                        */
	int err;              /* first error (enum osh_err), 0 if none   */
	const char *err_what; /* static text naming what failed          */
	/* Zeroed fallback handed out after a failure; large enough for the
	 * biggest generated struct (OCSF_MAX_OBJECT_SIZE in the generated
	 * header). Lives at the end of the storage. */
	unsigned char *scratch;
	size_t scratch_size;
};

/* Header at offset 0 of every generated struct. */
struct ocsf_hdr {
	struct ocsf_arena *arena;         /* owning event's arena               */
	const struct ocsf_object *desc;   /* descriptor of this struct          */
	uint16_t depth;                   /* 0 for the event, parent+1 below    */
};

/* Common head of every class struct (its first member). */
struct ocsf_event {
	struct ocsf_hdr hdr;
	const struct ocsf_class *cls;
	struct ocsf_arena arena;
	_Alignas(16) unsigned char buf[OCSF_EVENT_ARENA_SIZE];
};

/* ------------------------------------------------- runtime entry points used
 * by generated code (implemented in src/ocsf/). All are thread-compatible:
 * one thread builds one event. None calls malloc. */

/* Initialise `ev` (the struct ocsf_event at offset 0 of a class struct of
 * total size `size`): zero the class struct, point the arena at ev->buf,
 * set hdr/cls. Called by the generated <class>_init(). */
void ocsf_event_init(struct ocsf_event *ev, size_t size, const struct ocsf_class *cls);

/* Replace the embedded arena storage with a caller-owned buffer (for very
 * large events such as maximal samples). Must be called right after init and
 * before any sub-object is accessed; `buf` must outlive the event. Returns 0
 * or OSH_EINVAL. */
int ocsf_event_use_buffer(struct ocsf_event *ev, void *buf, size_t len);

/* Allocate `size` zeroed bytes, 16-byte aligned, from the arena. On
 * exhaustion records OSH_ENOMEM and returns the zeroed scratch area (never
 * NULL for size <= the largest generated object, OCSF_MAX_OBJECT_SIZE;
 * a larger request that fails returns NULL). */
void *ocsf_arena_alloc(struct ocsf_arena *a, size_t size);

/* Copy a string into the arena; on failure records the error and returns "". */
const char *ocsf_arena_strdup(struct ocsf_arena *a, const char *s);

/* printf into the arena; on failure records the error and returns "". */
const char *ocsf_arena_printf(struct ocsf_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Sub-object accessor behind every generated `<obj>_<field>(o)`:
 * returns *slot if the field is present, else allocates a zeroed struct of
 * `desc` from the arena (header filled, depth = parent depth + 1), stores it
 * in *slot and sets presence bit `bit`. If depth would exceed OCSF_MAX_DEPTH
 * or the arena is exhausted, records OSH_EDEPTH / OSH_ENOMEM and returns the
 * scratch object without touching *slot. Never NULL. */
void *ocsf_object_get(struct ocsf_hdr *parent, void **slot, unsigned bit,
		      const struct ocsf_object *desc);

/* Array appender behind every generated `<obj>_add_<field>(o, v)`: makes room
 * for one more element of `elem_size` bytes in `arr` (doubling capacity in the
 * arena), sets presence bit `bit`, and returns a pointer to the new zeroed
 * element slot. On failure records the error and returns scratch. */
void *ocsf_array_push(struct ocsf_hdr *owner, struct ocsf_array *arr, size_t elem_size,
		      unsigned bit);

/* For arrays of objects: appends a new zeroed object of `desc` and returns it
 * (never NULL; scratch on failure). */
void *ocsf_array_push_object(struct ocsf_hdr *owner, struct ocsf_array *arr, unsigned bit,
			     const struct ocsf_object *desc);

/* Open-object adders behind the generated `<obj>_add_<field>_str/_int/...`:
 * append one key/value to the open object `arr` and set presence bit `bit`.
 * A repeated key is appended again (last one wins for readers). */
void ocsf_open_add_str(struct ocsf_hdr *owner, struct ocsf_array *arr, unsigned bit,
		       const char *key, const char *val);
void ocsf_open_add_int(struct ocsf_hdr *owner, struct ocsf_array *arr, unsigned bit,
		       const char *key, int64_t val);
void ocsf_open_add_bool(struct ocsf_hdr *owner, struct ocsf_array *arr, unsigned bit,
			const char *key, bool val);
void ocsf_open_add_float(struct ocsf_hdr *owner, struct ocsf_array *arr, unsigned bit,
			 const char *key, double val);
void ocsf_open_add_json(struct ocsf_hdr *owner, struct ocsf_array *arr, unsigned bit,
			const char *key, const char *json_text);

/* Current wall-clock time in epoch milliseconds (CLOCK_REALTIME). */
int64_t ocsf_now_ms(void);

/* Presence helpers used by generated setters. */
static inline void ocsf_present_set(uint64_t *present, unsigned bit)
{
	present[bit / 64] |= (uint64_t)1 << (bit % 64);
}

static inline bool ocsf_present_get(const uint64_t *present, unsigned bit)
{
	return (present[bit / 64] >> (bit % 64)) & 1u;
}

static inline void ocsf_present_clear(uint64_t *present, unsigned bit)
{
	present[bit / 64] &= ~((uint64_t)1 << (bit % 64));
}

#endif
