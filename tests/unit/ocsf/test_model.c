/* test_model.c - descriptor tables of the hand-written test model.
 * DESIGN: written the way the generator writes its tables (designated
 * initializers, fields sorted by name, sibling indexes both ways). */
#include "test_model.h"

static const struct ocsf_enum_item act_items[] = {
    {.value = 0, .caption = "Unknown"},
    {.value = 1, .caption = "Open"},
    {.value = 2, .caption = "Close"},
    {.value = 99, .caption = "Other"},
};
static const struct ocsf_enum act_enum = {"test_event.activity_id", 4, act_items};

static const struct ocsf_enum_item sev_items[] = {
    {.value = 0, .caption = "Unknown"}, {.value = 1, .caption = "Informational"},
    {.value = 2, .caption = "Low"},	{.value = 3, .caption = "Medium"},
    {.value = 4, .caption = "High"},	{.value = 5, .caption = "Critical"},
    {.value = 6, .caption = "Fatal"},	{.value = 99, .caption = "Other"},
};
static const struct ocsf_enum sev_enum = {"severity_id", 8, sev_items};

static const struct ocsf_enum_item kind_items[] = {
    {.value = 0, .caption = "Unknown"},
    {.value = 1, .caption = "Leaf \"A\""},
    {.value = 2, .caption = "Branch"},
    {.value = 99, .caption = "Other"},
};
static const struct ocsf_enum kind_enum = {"node.kind_id", 4, kind_items};

/* Plan rows, written the way codegen writes them (emit_c.py emit_plan):
 * pre-quoted key, opcode, sibling, member offset, ref. */
#define ROW(nm, op_, sib, st, mem, ref_)                                                           \
	{                                                                                          \
		.key = ",\"" nm "\":", .klen = sizeof(",\"" nm "\":") - 1, .op = OCSF_OP_##op_,    \
		.profile = -1, .sibling = sib, .offset = offsetof(st, mem), .ref = ref_            \
	}
#define CONSTROW(nm, text, st, mem)                                                                \
	{                                                                                          \
		.key = ",\"" nm "\":", .klen = sizeof(text) - 1, .op = OCSF_OP_CONST,              \
		.profile = -1, .sibling = -1, .offset = offsetof(st, mem), .ref = text             \
	}
#define BIT(i) ((uint64_t)1 << (i))

static const struct ocsf_plan node_plan;
static const struct ocsf_plan meta_plan;

static struct ocsf_field node_fields[] = {
    {.name = "child",
     .offset = offsetof(struct t_node, child),
     .kind = OCSF_K_OBJECT,
     .profile = -1,
     .sibling = -1,
     .object = &t_node_desc},
    {.name = "children",
     .offset = offsetof(struct t_node, children),
     .kind = OCSF_K_OBJECT,
     .flags = OCSF_F_ARRAY,
     .profile = -1,
     .sibling = -1,
     .object = &t_node_desc},
    {.name = "kind",
     .offset = offsetof(struct t_node, kind),
     .kind = OCSF_K_STRING,
     .flags = OCSF_F_CAPTION,
     .profile = -1,
     .sibling = T_NODE_F_KIND_ID},
    {.name = "kind_id",
     .offset = offsetof(struct t_node, kind_id),
     .kind = OCSF_K_ENUM_INT,
     .profile = -1,
     .sibling = T_NODE_F_KIND,
     .enumeration = &kind_enum},
    {.name = "name",
     .offset = offsetof(struct t_node, name),
     .kind = OCSF_K_STRING,
     .flags = OCSF_F_REQUIRED,
     .profile = -1,
     .sibling = -1},
    {.name = "pod",
     .offset = offsetof(struct t_node, pod),
     .kind = OCSF_K_STRING,
     .profile = -1, /* patched to "container" by t_model_setup() */
     .sibling = -1},
    {.name = "ports",
     .offset = offsetof(struct t_node, ports),
     .kind = OCSF_K_PORT,
     .flags = OCSF_F_ARRAY,
     .profile = -1,
     .sibling = -1,
     .min = 0,
     .max = 65535,
     .has_range = true},
};

const struct ocsf_object t_node_desc = {
    .name = "node",
    .caption = "Node",
    .size = sizeof(struct t_node),
    .presence_offset = offsetof(struct t_node, present),
    .n_fields = T_NODE_N,
    .fields = node_fields,
    .recursive = true,
    .plan = &node_plan,
};

static struct ocsf_plan_row node_rows[] = {
    ROW("child", OBJ, -1, struct t_node, child, &node_plan),
    ROW("children", GENERIC, -1, struct t_node, children, NULL),
    ROW("kind", CAPTION, T_NODE_F_KIND_ID, struct t_node, kind, &kind_enum),
    ROW("kind_id", I32, T_NODE_F_KIND, struct t_node, kind_id, NULL),
    ROW("name", STR, -1, struct t_node, name, NULL),
    ROW("pod", STR, -1, struct t_node, pod, NULL), /* profile patched like the field's */
    ROW("ports", GENERIC, -1, struct t_node, ports, NULL),
};

static const struct ocsf_plan node_plan = {
    .desc = &t_node_desc,
    .rows = node_rows,
    .words = 1,
    .valid = {BIT(T_NODE_N) - 1},
    .cap_prev = {BIT(T_NODE_F_KIND_ID)},
    .profrows = {BIT(T_NODE_F_POD)},
};

static const struct ocsf_field meta_fields[] = {
    {.name = "event_code",
     .offset = offsetof(struct t_meta, event_code),
     .kind = OCSF_K_STRING,
     .profile = -1,
     .sibling = -1},
    {.name = "product",
     .offset = offsetof(struct t_meta, product),
     .kind = OCSF_K_STRING,
     .flags = OCSF_F_REQUIRED,
     .profile = -1,
     .sibling = -1},
    {.name = "profiles",
     .offset = offsetof(struct t_meta, profiles),
     .kind = OCSF_K_STRING,
     .flags = OCSF_F_ARRAY | OCSF_F_DERIVED,
     .profile = -1,
     .sibling = -1},
    {.name = "version",
     .offset = offsetof(struct t_meta, version),
     .kind = OCSF_K_STRING,
     .flags = OCSF_F_REQUIRED | OCSF_F_DERIVED,
     .profile = -1,
     .sibling = -1},
};

const struct ocsf_object t_meta_desc = {
    .name = "metadata",
    .caption = "Metadata",
    .size = sizeof(struct t_meta),
    .presence_offset = offsetof(struct t_meta, present),
    .n_fields = T_META_N,
    .fields = meta_fields,
    .plan = &meta_plan,
};

/* metadata.version: the runtime's schema version (ocsf_schema_version()). */
static const struct ocsf_plan_row meta_rows[] = {
    ROW("event_code", STR, -1, struct t_meta, event_code, NULL),
    ROW("product", STR, -1, struct t_meta, product, NULL),
    ROW("profiles", PROFILES, -1, struct t_meta, profiles, NULL),
    CONSTROW("version", ",\"version\":\"1.7.0\"", struct t_meta, version),
};

static const struct ocsf_plan meta_plan = {
    .desc = &t_meta_desc,
    .rows = meta_rows,
    .words = 1,
    .valid = {BIT(T_META_N) - 1},
    .always = {BIT(T_META_F_PROFILES) | BIT(T_META_F_VERSION)},
};

#define F(n, m, k, fl, sib)                                                                        \
	{                                                                                          \
		.name = n, .offset = offsetof(struct t_event, m), .kind = k, .flags = fl,          \
		.profile = -1, .sibling = sib                                                      \
	}

static const struct ocsf_field ev_fields[] = {
    {.name = "activity_id",
     .offset = offsetof(struct t_event, activity_id),
     .kind = OCSF_K_ENUM_INT,
     .flags = OCSF_F_REQUIRED,
     .profile = -1,
     .sibling = T_EV_F_ACTIVITY_NAME,
     .enumeration = &act_enum},
    F("activity_name", activity_name, OCSF_K_STRING, OCSF_F_CAPTION, T_EV_F_ACTIVITY_ID),
    F("category_name", category_name, OCSF_K_STRING, OCSF_F_CAPTION | OCSF_F_DERIVED, -1),
    F("category_uid", category_uid, OCSF_K_ENUM_INT, OCSF_F_REQUIRED | OCSF_F_DERIVED, -1),
    F("class_name", class_name, OCSF_K_STRING, OCSF_F_CAPTION | OCSF_F_DERIVED, -1),
    F("class_uid", class_uid, OCSF_K_ENUM_INT, OCSF_F_REQUIRED | OCSF_F_DERIVED, -1),
    F("count", count, OCSF_K_INT, 0, -1),
    F("data", data, OCSF_K_JSON, 0, -1),
    F("flag", flag, OCSF_K_BOOL, 0, -1),
    {.name = "metadata",
     .offset = offsetof(struct t_event, metadata),
     .kind = OCSF_K_OBJECT,
     .flags = OCSF_F_REQUIRED,
     .profile = -1,
     .sibling = -1,
     .object = &t_meta_desc},
    {.name = "nodes",
     .offset = offsetof(struct t_event, nodes),
     .kind = OCSF_K_OBJECT,
     .flags = OCSF_F_ARRAY,
     .profile = -1,
     .sibling = -1,
     .object = &t_node_desc},
    {.name = "port",
     .offset = offsetof(struct t_event, port),
     .kind = OCSF_K_PORT,
     .profile = -1,
     .sibling = -1,
     .min = 0,
     .max = 65535,
     .has_range = true},
    F("ratio", ratio, OCSF_K_FLOAT, 0, -1),
    {.name = "root",
     .offset = offsetof(struct t_event, root),
     .kind = OCSF_K_OBJECT,
     .profile = -1,
     .sibling = -1,
     .object = &t_node_desc},
    F("severity", severity, OCSF_K_STRING, OCSF_F_CAPTION, T_EV_F_SEVERITY_ID),
    {.name = "severity_id",
     .offset = offsetof(struct t_event, severity_id),
     .kind = OCSF_K_ENUM_INT,
     .flags = OCSF_F_REQUIRED,
     .profile = -1,
     .sibling = T_EV_F_SEVERITY,
     .enumeration = &sev_enum},
    F("size", size, OCSF_K_LONG, 0, -1),
    F("tags", tags, OCSF_K_STRING, OCSF_F_ARRAY, -1),
    F("time", time, OCSF_K_LONG, OCSF_F_REQUIRED, -1),
    F("type_name", type_name, OCSF_K_STRING, OCSF_F_CAPTION | OCSF_F_DERIVED, -1),
    F("type_uid", type_uid, OCSF_K_LONG, OCSF_F_REQUIRED | OCSF_F_DERIVED, -1),
    F("unmapped", unmapped, OCSF_K_OPEN_OBJECT, 0, -1),
};

static const struct ocsf_plan ev_plan;

static const struct ocsf_object t_event_desc = {
    .name = "test_event",
    .caption = "Test Event",
    .size = sizeof(struct t_event),
    .presence_offset = offsetof(struct t_event, present),
    .n_fields = T_EV_N,
    .fields = ev_fields,
    .plan = &ev_plan,
};

/* Per activity enum item (Unknown, Open, Close, Other), each led by its
 * length byte (octal). */
static const char *const ev_type_uids[] = {"\022,\"type_uid\":990100", "\022,\"type_uid\":990101",
					   "\022,\"type_uid\":990102", "\022,\"type_uid\":990199"};
static const char *const ev_type_names[] = {
    "\042,\"type_name\":\"Test Event: Unknown\"", "\037,\"type_name\":\"Test Event: Open\"",
    "\040,\"type_name\":\"Test Event: Close\"", "\040,\"type_name\":\"Test Event: Other\""};

#define EVROW(nm, op_, sib, mem, ref_) ROW(nm, op_, sib, struct t_event, mem, ref_)
static const struct ocsf_plan_row ev_rows[] = {
    EVROW("activity_id", I32, T_EV_F_ACTIVITY_NAME, activity_id, NULL),
    EVROW("activity_name", CAPTION, T_EV_F_ACTIVITY_ID, activity_name, &act_enum),
    CONSTROW("category_name", ",\"category_name\":\"Test Category\"", struct t_event,
	     category_name),
    CONSTROW("category_uid", ",\"category_uid\":99", struct t_event, category_uid),
    CONSTROW("class_name", ",\"class_name\":\"Test Event\"", struct t_event, class_name),
    CONSTROW("class_uid", ",\"class_uid\":9901", struct t_event, class_uid),
    EVROW("count", I32, -1, count, NULL),
    EVROW("data", GENERIC, -1, data, NULL),
    EVROW("flag", BOOL, -1, flag, NULL),
    EVROW("metadata", METADATA, -1, metadata, &meta_plan),
    EVROW("nodes", GENERIC, -1, nodes, NULL),
    EVROW("port", PORT, -1, port, NULL),
    EVROW("ratio", GENERIC, -1, ratio, NULL),
    EVROW("root", OBJ, -1, root, &node_plan),
    EVROW("severity", CAPTION, T_EV_F_SEVERITY_ID, severity, &sev_enum),
    EVROW("severity_id", I32, T_EV_F_SEVERITY, severity_id, NULL),
    EVROW("size", I64, -1, size, NULL),
    EVROW("tags", GENERIC, -1, tags, NULL),
    EVROW("time", I64, -1, time, NULL),
    EVROW("type_name", TYPE_NAME, -1, type_name, ev_type_names),
    EVROW("type_uid", TYPE_UID, -1, type_uid, ev_type_uids),
    EVROW("unmapped", GENERIC, -1, unmapped, NULL),
};

static const struct ocsf_plan ev_plan = {
    .desc = &t_event_desc,
    .rows = ev_rows,
    .words = 1,
    .valid = {BIT(T_EV_N) - 1},
    .always = {BIT(T_EV_F_CATEGORY_NAME) | BIT(T_EV_F_CATEGORY_UID) | BIT(T_EV_F_CLASS_NAME) |
	       BIT(T_EV_F_CLASS_UID) | BIT(T_EV_F_METADATA) | BIT(T_EV_F_TYPE_NAME) |
	       BIT(T_EV_F_TYPE_UID)},
    .cap_prev = {BIT(T_EV_F_SEVERITY_ID)},
    .cap_next = {BIT(T_EV_F_ACTIVITY_ID)},
};

const struct ocsf_class t_event_class = {
    .object = &t_event_desc,
    .class_uid = 9901,
    .class_name = "Test Event",
    .category_uid = 99,
    .category_name = "Test Category",
    .activity = &act_enum,
    .activity_field = T_EV_F_ACTIVITY_ID,
    .severity_field = T_EV_F_SEVERITY_ID,
    .metadata_field = T_EV_F_METADATA,
    .time_field = T_EV_F_TIME,
};

void t_model_setup(void)
{
	node_fields[T_NODE_F_POD].profile = (int8_t)ocsf_profile_index("container");
	node_rows[T_NODE_F_POD].profile = node_fields[T_NODE_F_POD].profile;
}
