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

static const struct ocsf_object t_event_desc = {
    .name = "test_event",
    .caption = "Test Event",
    .size = sizeof(struct t_event),
    .presence_offset = offsetof(struct t_event, present),
    .n_fields = T_EV_N,
    .fields = ev_fields,
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
}
