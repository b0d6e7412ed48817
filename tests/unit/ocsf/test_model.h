/* test_model.h - a small hand-written model that follows ocsf_model.h.
 *
 * DESIGN: the runtime must work for any descriptor table, not just the
 * generated one, so these tests pin its behaviour on a model small enough to
 * state expected JSON byte for byte: an event class "test_event" (uid 9901,
 * category 99) with every field kind, a recursive object "node" (child,
 * array of nodes), a metadata object, caption siblings and one profile
 * attribute. Profile indexes are looked up by name at set-up time because
 * the runtime takes the profile list from the generated model.
 */
#ifndef TEST_MODEL_H
#define TEST_MODEL_H

#include <stddef.h>

#include "ocsf.h"

struct t_node {
	struct ocsf_hdr hdr;
	uint64_t present[1];
	struct t_node *child;
	struct ocsf_array children; /* struct t_node * */
	const char *kind;
	int32_t kind_id;
	const char *name;
	const char *pod;
	struct ocsf_array ports; /* uint16_t */
};

enum {
	T_NODE_F_CHILD,
	T_NODE_F_CHILDREN,
	T_NODE_F_KIND,
	T_NODE_F_KIND_ID,
	T_NODE_F_NAME,
	T_NODE_F_POD,
	T_NODE_F_PORTS,
	T_NODE_N
};

struct t_meta {
	struct ocsf_hdr hdr;
	uint64_t present[1];
	const char *event_code;
	const char *product;
	struct ocsf_array profiles; /* const char * */
	const char *version;
};

enum { T_META_F_EVENT_CODE, T_META_F_PRODUCT, T_META_F_PROFILES, T_META_F_VERSION, T_META_N };

struct t_event {
	struct ocsf_event ev;
	uint64_t present[1];
	int32_t activity_id;
	const char *activity_name;
	const char *category_name;
	int32_t category_uid;
	const char *class_name;
	int32_t class_uid;
	int32_t count;
	const char *data;
	bool flag;
	struct t_meta *metadata;
	struct ocsf_array nodes; /* struct t_node * */
	uint16_t port;
	double ratio;
	struct t_node *root;
	const char *severity;
	int32_t severity_id;
	int64_t size;
	struct ocsf_array tags; /* const char * */
	int64_t time;
	const char *type_name;
	int64_t type_uid;
	struct ocsf_array unmapped; /* struct ocsf_kv */
};

enum {
	T_EV_F_ACTIVITY_ID,
	T_EV_F_ACTIVITY_NAME,
	T_EV_F_CATEGORY_NAME,
	T_EV_F_CATEGORY_UID,
	T_EV_F_CLASS_NAME,
	T_EV_F_CLASS_UID,
	T_EV_F_COUNT,
	T_EV_F_DATA,
	T_EV_F_FLAG,
	T_EV_F_METADATA,
	T_EV_F_NODES,
	T_EV_F_PORT,
	T_EV_F_RATIO,
	T_EV_F_ROOT,
	T_EV_F_SEVERITY,
	T_EV_F_SEVERITY_ID,
	T_EV_F_SIZE,
	T_EV_F_TAGS,
	T_EV_F_TIME,
	T_EV_F_TYPE_NAME,
	T_EV_F_TYPE_UID,
	T_EV_F_UNMAPPED,
	T_EV_N
};

extern const struct ocsf_class t_event_class;
extern const struct ocsf_object t_node_desc;
extern const struct ocsf_object t_meta_desc;

/* Patch the profile index of node.pod to the runtime's "container". */
void t_model_setup(void);

static inline void t_event_init(struct t_event *e, int32_t activity)
{
	ocsf_event_init(&e->ev, sizeof(*e), &t_event_class);
	e->activity_id = activity;
	ocsf_present_set(e->present, T_EV_F_ACTIVITY_ID);
	e->severity_id = 1;
	ocsf_present_set(e->present, T_EV_F_SEVERITY_ID);
	e->time = 1700000000000LL;
	ocsf_present_set(e->present, T_EV_F_TIME);
}

static inline struct t_meta *t_event_metadata(struct t_event *e)
{
	void *slot = e->metadata;
	struct t_meta *m = ocsf_object_get(&e->ev.hdr, &slot, T_EV_F_METADATA, &t_meta_desc);
	e->metadata = slot;
	return m;
}

static inline struct t_node *t_event_root(struct t_event *e)
{
	void *slot = e->root;
	struct t_node *n = ocsf_object_get(&e->ev.hdr, &slot, T_EV_F_ROOT, &t_node_desc);
	e->root = slot;
	return n;
}

static inline struct t_node *t_node_child(struct t_node *o)
{
	void *slot = o->child;
	struct t_node *n = ocsf_object_get(&o->hdr, &slot, T_NODE_F_CHILD, &t_node_desc);
	o->child = slot;
	return n;
}

static inline void t_node_set_name(struct t_node *o, const char *v)
{
	o->name = v;
	ocsf_present_set(o->present, T_NODE_F_NAME);
}

static inline void t_event_add_tag(struct t_event *e, const char *v)
{
	const char **slot = ocsf_array_push(&e->ev.hdr, &e->tags, sizeof(*slot), T_EV_F_TAGS);
	*slot = v;
}

#endif
